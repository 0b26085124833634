package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/source"
)

// dataFlags name where a command's series come from: CSV files (--data)
// or a Prometheus server (--prometheus with --query, --start, --end,
// --step). Every command that reads series registers them, so both kinds
// of input go through load and obey the same rules.
type dataFlags struct {
	fs    *flag.FlagSet
	files stringList
	// multi: --data may be repeated.
	multi                         bool
	prometheus, query, start, end *string
	step                          *time.Duration
}

// addDataFlags registers the flags; dataUsage describes --data for the
// command.
func addDataFlags(fs *flag.FlagSet, dataUsage string, multi bool) *dataFlags {
	d := &dataFlags{fs: fs, multi: multi}
	fs.Var(&d.files, "data", dataUsage)
	d.prometheus = fs.String("prometheus", "", "read the series from the Prometheus server at this `URL` (e.g. http://localhost:9090) instead of --data: those --query evaluates to, one per label set, named like cpu{instance=\"a\"}")
	d.query = fs.String("query", "", "PromQL `expression` for --prometheus, e.g. node_load1 or rate(http_requests_total[5m]); every step must hold a value")
	d.start = fs.String("start", "", "with --prometheus: the first `time`, RFC 3339, \"2006-01-02 15:04:05\" (UTC) or unix seconds (default: 10,999 steps before --end)")
	d.end = fs.String("end", "", "with --prometheus: the last `time`, as --start (default: now)")
	d.step = fs.Duration("step", 5*time.Minute, "with --prometheus: the series' cadence, the spacing of the evaluation times")
	return d
}

// given reports whether --data or --prometheus was passed.
func (d *dataFlags) given() bool { return len(d.files) > 0 || *d.prometheus != "" }

// fromPrometheus reports whether the series come from Prometheus.
func (d *dataFlags) fromPrometheus() bool { return *d.prometheus != "" }

// input is what one file or one query yielded.
type input struct {
	// from names the file or the query, for messages.
	from string
	// series share one time axis. A file's series are named after the file
	// when it has one column and FILE:COLUMN otherwise; Prometheus names a
	// series by its labels.
	series []baseline.Series
	// metrics[i] is series i's metric: its column, or its Prometheus name.
	// It is derived here, in load, and nowhere else: the name serve
	// answers with (predict --json's "metrics").
	metrics []string
}

// set reports whether flag name was passed.
func (d *dataFlags) set(name string) bool {
	found := false
	d.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// load reads the series: of every --data file the columns in target
// (comma-separated; "" every column besides the timestamp), or those the
// --prometheus query evaluates to (target must not be set then). Bad
// input (a file's fault, a bad query or range, a gap) is a usage error.
func (d *dataFlags) load(ctx context.Context, target string) ([]input, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if d.fromPrometheus() {
		if d.set("target") {
			return nil, usagef("--target picks CSV columns; with --prometheus the query picks the series")
		}
		p, err := d.source()
		if err != nil {
			return nil, err
		}
		ss, err := p.Load(ctx)
		if errors.Is(err, baseline.ErrBadInput) {
			return nil, usageErr(err)
		}
		if err != nil {
			return nil, err
		}
		in := input{from: fmt.Sprintf("prometheus %s query %s", p.URL, p.Query), series: ss}
		for _, s := range ss {
			in.metrics = append(in.metrics, s.Name)
		}
		return []input{in}, nil
	}
	var cols []string
	for _, c := range strings.Split(target, ",") {
		if c = strings.TrimSpace(c); c != "" {
			cols = append(cols, c)
		}
	}
	var out []input
	for _, p := range d.files {
		ss, err := baseline.LoadColumns(p, cols)
		if err != nil {
			return nil, usageErr(err)
		}
		file := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		in := input{from: p, series: ss}
		for _, s := range ss {
			in.metrics = append(in.metrics, strings.TrimPrefix(s.Name, file+":"))
		}
		if len(ss) == 1 {
			ss[0].Name = file
		}
		out = append(out, in)
	}
	return out, nil
}

// check rejects contradictory flags.
func (d *dataFlags) check() error {
	switch {
	case len(d.files) > 0 && d.fromPrometheus():
		return usagef("pass --data or --prometheus, not both")
	case !d.multi && len(d.files) > 1:
		return usagef("--data: one file, got %d", len(d.files))
	case d.fromPrometheus() && strings.TrimSpace(*d.query) == "":
		return usagef("--prometheus needs --query (a PromQL expression)")
	case !d.fromPrometheus():
		for _, f := range []string{"query", "start", "end", "step"} {
			if d.set(f) {
				return usagef("--%s needs --prometheus", f)
			}
		}
	}
	return nil
}

// source is the Prometheus query the flags describe.
func (d *dataFlags) source() (source.Prometheus, error) {
	p := source.Prometheus{URL: *d.prometheus, Query: *d.query, Step: *d.step}
	var err error
	if p.Start, err = parseTimeFlag("start", *d.start); err != nil {
		return p, err
	}
	if p.End, err = parseTimeFlag("end", *d.end); err != nil {
		return p, err
	}
	return p, nil
}

// parseTimeFlag reads --start or --end: RFC 3339, "2006-01-02 15:04:05"
// or "2006-01-02" (UTC), or unix seconds; "" is the zero time.
func parseTimeFlag(name, v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f < 1e11 && !math.IsNaN(f) {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	return time.Time{}, usagef("--%s %q: want RFC 3339 (2014-02-14T14:30:00Z), \"2006-01-02 15:04:05\" (UTC) or unix seconds", name, v)
}

// labels is loadLabels for these series: with --prometheus only an
// explicit --labels file.
func (d *dataFlags) labels(file string) (baseline.Labels, error) {
	if d.fromPrometheus() && file == "" {
		return nil, nil
	}
	return loadLabels(file, d.files)
}

// metricSeries is one input as the serving commands take it: its series
// (sharing their arrays), each named by its metric.
func (in input) metricSeries() []baseline.Series {
	out := make([]baseline.Series, len(in.series))
	for i, s := range in.series {
		out[i] = baseline.Series{Name: in.metrics[i], Times: s.Times, Values: s.Values}
	}
	return out
}
