package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/novacron/perfpredict/features"
)

func init() {
	register(&command{name: "features", summary: "write the engineered feature matrix of a metrics file as CSV (what the model sees)", run: runFeatures})
}

// featuresSummary is the --json output of the features command.
type featuresSummary struct {
	Data     string              `json:"data"`
	Out      string              `json:"out"`
	Load     features.LoadReport `json:"load"`
	Grid     features.GridReport `json:"grid"`
	Cadence  string              `json:"cadence"`
	Rows     int                 `json:"rows"`
	Features []string            `json:"features"`
}

func runFeatures(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("features", env)
	data := fs.String("data", "", "metrics file: .csv, .json, .ndjson or .jsonl (required)")
	out := fs.String("out", "", "write the CSV to this file (default: standard output)")
	format := fs.String("format", "auto", "input format: auto, csv, json or ndjson")
	cadence := fs.Duration("cadence", 0, "grid step, e.g. 5m (default: the median step between timestamps)")
	maxFill := fs.Int("max-fill", 0, "longest gap, in grid steps, filled by interpolation (0: 3; negative: none)")
	skip := fs.Bool("skip-invalid", false, "skip and count malformed rows instead of failing")
	metrics := fs.String("metrics", "", "comma-separated metrics to keep (default: all)")
	asJSON := fs.Bool("json", false, "print a JSON summary on standard output (needs --out)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return usagef("--data is required")
	}
	if *asJSON && *out == "" {
		return usagef("--json prints the summary on standard output; give --out for the CSV")
	}
	opt := features.LoadOptions{SkipInvalid: *skip}
	switch strings.ToLower(*format) {
	case "auto":
	case "csv":
		opt.Format = features.FormatCSV
	case "json":
		opt.Format = features.FormatJSON
	case "ndjson", "jsonl":
		opt.Format = features.FormatNDJSON
	default:
		return usagef("--format %q: want auto, csv, json or ndjson", *format)
	}
	if *metrics != "" {
		for _, m := range strings.Split(*metrics, ",") {
			if m = strings.TrimSpace(m); m != "" {
				opt.Metrics = append(opt.Metrics, m)
			}
		}
	}
	if *cadence < 0 {
		return usagef("--cadence %v must not be negative", *cadence)
	}

	series, lrep, err := features.Load(*data, opt)
	if err != nil {
		return usageErr(err) // unreadable or malformed input: exit 2
	}
	if lrep.Skipped > 0 {
		fmt.Fprintf(env.stderr, "features: skipped %d invalid rows (first: %s)\n", lrep.Skipped, lrep.FirstSkip)
	}
	grid, grep, err := features.Resample(series, features.GridOptions{Cadence: *cadence, MaxFill: *maxFill})
	if err != nil {
		return usageErr(fmt.Errorf("%s: %w", *data, err))
	}
	fmt.Fprintf(env.stderr, "features: %s\n", grep)
	frame, err := features.Engineer(grid, nil)
	if err != nil {
		return usageErr(fmt.Errorf("%s: %w", *data, err))
	}
	fmt.Fprintf(env.stderr, "features: %d rows x %d features\n", frame.Rows(), frame.Cols())

	if *out == "" {
		return writeFeatureCSV(ctx, env.stdout, frame)
	}
	if err := writeFeatureFile(ctx, *out, frame); err != nil {
		return err
	}
	if *asJSON {
		sum := featuresSummary{Data: *data, Out: *out, Load: lrep, Grid: grep, Cadence: frame.Cadence.String(),
			Rows: frame.Rows(), Features: frame.Names}
		enc := json.NewEncoder(env.stdout)
		return enc.Encode(sum)
	}
	return nil
}

// writeFeatureFile writes the CSV beside path and renames it into place, so
// a crash never leaves a truncated file under the final name.
func writeFeatureFile(ctx context.Context, path string, f *features.Frame) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := writeFeatureCSV(ctx, tmp, f); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeFeatureCSV writes a timestamp column (RFC 3339, UTC) and one column per
// feature, values in the shortest form that reads back to the same float32.
func writeFeatureCSV(ctx context.Context, w io.Writer, f *features.Frame) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	// The header goes through encoding/csv: a metric name may hold a comma.
	hw := csv.NewWriter(bw)
	if err := hw.Write(append([]string{"timestamp"}, f.Names...)); err != nil {
		return err
	}
	hw.Flush()
	if err := hw.Error(); err != nil {
		return err
	}
	var buf []byte
	for i := 0; i < f.Rows(); i++ {
		if i%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		buf = buf[:0]
		buf = append(buf, features.FormatTime(f.Times[i])...)
		for _, v := range f.Row(i) {
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, float64(v), 'g', -1, 32)
		}
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return nil
}
