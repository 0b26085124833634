package source

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/internal/promtest"
)

// nab is the NAB series served under the metric nab{job="cpu"}: 18,050
// steps of 5 minutes, so a query over all of it takes two chunks.
const nabPath = "../testdata/nab/realKnownCause/cpu_utilization_asg_misconfiguration.csv"

func loadNAB(t *testing.T) baseline.Series {
	t.Helper()
	s, err := baseline.LoadCSV(nabPath, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// history is what the test server holds: the NAB series, two more series
// of the metric pair (one starting 20 steps later, one with a 30-minute
// hole) and a second job of the same metric.
func history(s baseline.Series) []promtest.Series {
	n := 200
	pair := func(labels map[string]string, times []time.Time, values []float64) promtest.Series {
		return promtest.Series{Metric: "pair", Labels: labels, Times: times, Values: values}
	}
	holed := func() ([]time.Time, []float64) {
		var ts []time.Time
		var vs []float64
		for i := range n {
			if i >= 100 && i < 106 {
				continue
			}
			ts, vs = append(ts, s.Times[i]), append(vs, s.Values[i])
		}
		return ts, vs
	}
	ht, hv := holed()
	return []promtest.Series{
		{Metric: "nab", Labels: map[string]string{"job": "cpu"}, Times: s.Times, Values: s.Values},
		{Metric: "nab", Labels: map[string]string{"job": "copy", "instance": "b"}, Times: s.Times[:n], Values: s.Values[:n]},
		pair(map[string]string{"side": "full"}, s.Times[:n], s.Values[:n]),
		pair(map[string]string{"side": "late"}, s.Times[20:n], s.Values[20:n]),
		{Metric: "holed", Times: ht, Values: hv},
	}
}

func TestPrometheus(t *testing.T) {
	s := loadNAB(t)
	srv := promtest.Start(t, history(s)...)
	ctx := context.Background()
	step := 5 * time.Minute
	first, last := s.Times[0], s.Times[len(s.Times)-1]
	at := func(q string, from, to time.Time) Prometheus {
		return Prometheus{URL: srv.URL, Query: q, Start: from, End: to, Step: step}
	}

	t.Run("same series as the CSV, over two chunks", func(t *testing.T) {
		if s.Len() <= MaxPoints {
			t.Fatalf("the test series has %d steps, want more than one chunk (%d)", s.Len(), MaxPoints)
		}
		// A range wider than the data on both sides: the empty ends are trimmed.
		got, err := at(`nab{job="cpu"}`, first.Add(-time.Hour), last.Add(time.Hour)).Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("%d series, want 1", len(got))
		}
		if got[0].Name != `nab{job="cpu"}` {
			t.Errorf("name %q", got[0].Name)
		}
		if !slices.Equal(got[0].Values, s.Values) {
			t.Errorf("values differ from the CSV's (%d vs %d steps)", got[0].Len(), s.Len())
		}
		if !slices.EqualFunc(got[0].Times, s.Times, time.Time.Equal) {
			t.Errorf("times differ from the CSV's: first %v last %v, want %v %v", got[0].Times[0], got[0].Times[got[0].Len()-1], first, last)
		}
	})

	t.Run("several series named by their labels in order", func(t *testing.T) {
		got, err := at("nab", first, s.Times[199]).Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, g := range got {
			names = append(names, g.Name)
			if !slices.Equal(g.Values, s.Values[:200]) {
				t.Errorf("%s: values differ", g.Name)
			}
		}
		want := []string{`nab{instance="b", job="copy"}`, `nab{job="cpu"}`}
		if !slices.Equal(names, want) {
			t.Errorf("names %q, want %q", names, want)
		}
	})

	t.Run("last points of a named series", func(t *testing.T) {
		p := Prometheus{URL: srv.URL, End: last, Step: step}
		got, err := p.Last(ctx, `nab{job="cpu"}`, 50)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Values, s.Values[s.Len()-50:]) || !got.Times[49].Equal(last) {
			t.Errorf("Last: %d values ending %v, want the CSV's last 50 ending %v", got.Len(), got.Times[got.Len()-1], last)
		}
		// The selector matches two series; the exact name picks one.
		p.End = s.Times[199]
		got, err = p.Last(ctx, `nab{job="copy", instance="b"}`, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != `nab{instance="b", job="copy"}` || !slices.Equal(got.Values, s.Values[190:200]) {
			t.Errorf("Last: %s %v", got.Name, got.Values)
		}
		_, err = p.Last(ctx, `{__name__="nab"}`, 10)
		wantBad(t, err, "matches 2 series")
	})

	bad := []struct {
		name string
		p    Prometheus
		want string
	}{
		{"gap", at("holed", first, s.Times[199]), "series holed has no value at " + s.Times[100].UTC().Format(time.RFC3339)},
		{"mismatched series", at("pair", first, s.Times[199]), `series pair{side="late"} has no value at ` + first.UTC().Format(time.RFC3339)},
		{"no series", at("absent_metric", first, last), "returned no series"},
		{"range before the data", at("nab", first.Add(-48*time.Hour), first.Add(-24*time.Hour)), "returned no series"},
		{"NaN value", at(`nab{job="cpu"} * NaN`, first, s.Times[9]), "is not a finite number"},
		{"bad PromQL", at("nab{", first, last), "query nab{:"},
		{"string result", at(`"text"`, first, last), "a string, want an instant vector"},
		{"scalar result", at("1", first, last), "a scalar, want an instant vector"},
		{"step finer than the cadence", Prometheus{URL: srv.URL, Query: `nab{job="cpu"}`, Start: first, End: last, Step: time.Minute}, "has no value at " + first.Add(time.Minute).UTC().Format(time.RFC3339)},
		{"zero step", Prometheus{URL: srv.URL, Query: "nab", Start: first, End: last}, "step 0s: want at least 1ms"},
		{"end before start", at("nab", last, first), "is before start"},
		{"too many steps", Prometheus{URL: srv.URL, Query: "nab", Start: first, End: first.Add(time.Duration(baseline.MaxRows) * time.Second), Step: time.Second}, "more than 2000000 steps"},
		{"no query", at("", first, last), "no query given"},
		{"bad URL", Prometheus{URL: "localhost:9090", Query: "nab", Step: step}, "not an http:// or https:// address"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.p.Load(ctx)
			wantBad(t, err, c.want)
		})
	}
}

// wantBad checks that err is a bad-input error containing want.
func wantBad(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
	if !errors.Is(err, baseline.ErrBadInput) {
		t.Errorf("error %q does not wrap baseline.ErrBadInput", err)
	}
}

// An unreachable server is a runtime failure, not the input's fault.
func TestPrometheusUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	now := time.Now()
	_, err = Prometheus{URL: url, Query: "up", Start: now.Add(-time.Hour), End: now, Step: time.Minute}.Load(context.Background())
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	if !strings.Contains(err.Error(), "prometheus "+url) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q, want the URL and the cause", err)
	}
	if errors.Is(err, baseline.ErrBadInput) {
		t.Errorf("error %q wraps ErrBadInput; an unreachable server is not the input's fault", err)
	}
}
