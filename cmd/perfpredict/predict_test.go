package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/internal/synth"
	"github.com/novacron/perfpredict/serve"
)

var (
	servingFCOnce sync.Once
	servingFC     *forecast.Forecaster
	servingFCErr  error
)

// servingArtifact saves a forecaster small enough to train in a test (the
// design's horizon of 30 steps, two networks) to a temporary directory.
func servingArtifact(t *testing.T) string {
	t.Helper()
	servingFCOnce.Do(func() {
		o := forecast.DefaultOptions()
		o.Window, o.ScaleWindow, o.Horizon = 8, 16, 30
		o.Hidden, o.Head, o.Epochs, o.Ensemble, o.BatchSize, o.Stride = 4, []int{8}, 2, 2, 32, 2
		o.SwitchTrees.Params.Rounds = 20 // small trees: the switch of three is served
		series := []baseline.Series{{Name: "a", Values: synth.Walk(1200, 1)}, {Name: "b", Values: synth.Walk(1000, 2)}}
		servingFC, servingFCErr = forecast.Train(context.Background(), series, o)
	})
	if servingFCErr != nil {
		t.Fatal(servingFCErr)
	}
	path := filepath.Join(t.TempDir(), "forecaster.zip")
	if err := servingFC.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

var metricsT0 = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

// writeMetrics writes rows [from, to) of columns (one per name) as a
// 5-minute CSV.
// asWritten is v as writeMetrics writes it, to six decimals.
func asWritten(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Round(x*1e6) / 1e6
	}
	return out
}

func writeMetrics(t *testing.T, path string, names []string, cols [][]float64, from, to int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("timestamp," + strings.Join(names, ",") + "\n")
	for i := from; i < to; i++ {
		b.WriteString(metricsT0.Add(time.Duration(i) * 5 * time.Minute).Format("2006-01-02 15:04:05"))
		for _, c := range cols {
			fmt.Fprintf(&b, ",%.6f", c[i])
		}
		b.WriteString("\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

type predictJSON struct {
	Predictions [][]float64 `json:"predictions"`
	P10         [][]float64 `json:"p10"`
	P90         [][]float64 `json:"p90"`
	Attention   [][]float64 `json:"attention"`
	Needs       int         `json:"needs"`
	Horizon     int         `json:"horizon"`
	Metrics     []string    `json:"metrics"`
	Times       []time.Time `json:"times"`
	Source      string      `json:"source"`
	Method      string      `json:"method"`
	Methods     []string    `json:"methods"`
	Version     string      `json:"version"`
}

// TestPredictServesSwitch: with --switch predict answers each metric with
// a switch fitted on the file, as evaluate's switch row is made.
func TestPredictServesSwitch(t *testing.T) {
	model := servingArtifact(t)
	fc, err := forecast.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"cpu", "mem"}
	cols := [][]float64{asWritten(synth.Walk(700, 21)), asWritten(synth.Walk(700, 22))}
	path := filepath.Join(t.TempDir(), "m.csv")
	writeMetrics(t, path, names, cols, 0, 700)
	code, out, errs := runCmd("predict", "--model", model, "--data", path, "--json", "--switch")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got predictJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.Source != "model" || got.Method != forecast.SwitchMethod || strings.Join(got.Methods, ",") != "switch,switch" {
		t.Fatalf("source %q, method %q, methods %v; want the switch for both", got.Source, got.Method, got.Methods)
	}
	for m := range names {
		sw := forecast.NewSwitch(fc)
		if err := sw.Fit(baseline.Series{Values: cols[m]}, baseline.SplitOf(700).Train); err != nil {
			t.Fatal(err)
		}
		for h := 1; h <= fc.Horizon(); h++ {
			pt, err := sw.Point(h)
			if err != nil {
				t.Fatal(err)
			}
			if !relNear(got.Predictions[m][h-1], pt.Value, 1e-9) || !relNear(got.P10[m][h-1], pt.P10, 1e-9) || !relNear(got.P90[m][h-1], pt.P90, 1e-9) {
				t.Fatalf("%s h=%d: %v (p10 %v, p90 %v), want %+v", names[m], h, got.Predictions[m][h-1], got.P10[m][h-1], got.P90[m][h-1], pt)
			}
		}
	}
	code, out, errs = runCmd("predict", "--model", model, "--data", path, "--switch")
	if code != 0 || !strings.Contains(out, "(cpu by the switch, mem by the switch;") {
		t.Errorf("text: exit %d: %s%s", code, out, errs)
	}
}

func relNear(a, b, rel float64) bool {
	return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b)) || a == b
}

// TestPredictServesForecast is issue 13's contract: `predict --json` on a
// file cut after any row is the forecaster's Forecast of every column up
// to that row (1e-6 relative), depends on the last `needs` rows only, and
// a shorter file is a usage error naming the file and the rows needed.
func TestPredictServesForecast(t *testing.T) {
	model := servingArtifact(t)
	fc, err := forecast.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	names := []string{"cpu", "mem"}
	cols := [][]float64{synth.Walk(400, 11), synth.Walk(400, 12)}
	ctx := context.Background()
	needs := fc.Needs()
	var whole string
	for _, cut := range []int{needs, needs + 1, 97, 250, 400} {
		path := filepath.Join(dir, fmt.Sprintf("cut%d.csv", cut))
		writeMetrics(t, path, names, cols, 0, cut)
		code, out, errs := runCmd("predict", "--model", model, "--data", path, "--json")
		if code != 0 {
			t.Fatalf("cut %d: exit %d: %s", cut, code, errs)
		}
		var got predictJSON
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("cut %d: %v\n%s", cut, err, out)
		}
		if got.Needs != needs || got.Horizon != 30 || strings.Join(got.Metrics, ",") != "cpu,mem" || got.Source != "model" ||
			!strings.HasPrefix(got.Version, "sha256:") || len(got.Times) != 30 || len(got.Predictions) != 2 ||
			len(got.P10) != 2 || len(got.P90) != 2 || len(got.Attention) != 2 || len(got.Attention[0]) != fc.Recipe().Window {
			t.Fatalf("cut %d: %s", cut, out)
		}
		if want := metricsT0.Add(time.Duration(cut-1+3) * 5 * time.Minute); !got.Times[2].Equal(want) {
			t.Errorf("cut %d: h=3 at %v, want %v (the file's cadence)", cut, got.Times[2], want)
		}
		for m := range names {
			want, err := fc.Forecast(ctx, cols[m][:cut])
			if err != nil {
				t.Fatal(err)
			}
			for h := 1; h <= 30; h++ {
				pt := want.Points[h-1]
				if !relNear(got.Predictions[m][h-1], pt.Value, 1e-6) || !relNear(got.P10[m][h-1], pt.P10, 1e-6) || !relNear(got.P90[m][h-1], pt.P90, 1e-6) {
					t.Fatalf("cut %d, %s, h=%d: %v (p10 %v, p90 %v), Forecast %+v", cut, names[m], h,
						got.Predictions[m][h-1], got.P10[m][h-1], got.P90[m][h-1], pt)
				}
			}
			for i, a := range want.Attention {
				if !relNear(got.Attention[m][i], a, 1e-6) {
					t.Fatalf("cut %d: attention %d = %v, want %v", cut, i, got.Attention[m][i], a)
				}
			}
		}
		if cut == 400 {
			whole = out
		}
	}
	// Only the last `needs` rows: the same bytes as the whole file.
	last := filepath.Join(dir, "last.csv")
	writeMetrics(t, last, names, cols, 400-needs, 400)
	if code, out, errs := runCmd("predict", "--model", model, "--data", last, "--json"); code != 0 || out != whole {
		t.Errorf("the last %d rows: exit %d (%s), output\n%s\nwant the whole file's\n%s", needs, code, errs, out, whole)
	}
	// --target picks one column.
	code, out, errs := runCmd("predict", "--model", model, "--data", last, "--target", "mem", "--json")
	var one predictJSON
	if code != 0 || json.Unmarshal([]byte(out), &one) != nil || len(one.Predictions) != 1 || one.Metrics[0] != "mem" {
		t.Errorf("--target mem: exit %d: %s%s", code, out, errs)
	}
	// The human table.
	if code, out, _ := runCmd("predict", "--model", model, "--data", last); code != 0 || !strings.Contains(out, "cpu p50 (p10 .. p90)") ||
		!strings.Contains(out, fmt.Sprintf("reads the last %d rows", needs)) {
		t.Errorf("table: exit %d:\n%s", code, out)
	}
	// Shorter than needs: a usage error naming the file and the rows.
	short := filepath.Join(dir, "short.csv")
	writeMetrics(t, short, names, cols, 0, needs-1)
	code, _, errs = runCmd("predict", "--model", model, "--data", short)
	if want := fmt.Sprintf("%s: %d rows; the forecaster needs the last %d rows", short, needs-1, needs); code != 2 || !strings.Contains(errs, want) {
		t.Errorf("short file: exit %d, stderr %q, want 2 and %q", code, errs, want)
	}
}

// TestPredictBadArtifact: a missing or corrupt artifact, or bad flags,
// fail with exit 2 and one line naming the file or flag.
func TestPredictBadArtifact(t *testing.T) {
	model := servingArtifact(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "d.csv")
	writeMetrics(t, data, []string{"value"}, [][]float64{synth.Walk(100, 3)}, 0, 100)
	b, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt.zip")
	c := append([]byte(nil), b...)
	c[len(c)/2] ^= 0xff // inside a member: its CRC fails
	os.WriteFile(corrupt, c, 0o644)
	truncated := filepath.Join(dir, "truncated.zip")
	os.WriteFile(truncated, b[:len(b)/3], 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", data}, "--model and --data are required"},
		{[]string{"--model", model}, "--model and --data are required"},
		{[]string{"--model", filepath.Join(dir, "nope.zip"), "--data", data}, "nope.zip"},
		{[]string{"--model", corrupt, "--data", data}, "corrupt.zip"},
		{[]string{"--model", truncated, "--data", data}, "truncated.zip"},
		{[]string{"--model", data, "--data", data}, "not a forecaster artifact"},
		{[]string{"--model", model, "--data", filepath.Join(dir, "none.csv")}, "none.csv"},
		{[]string{"--model", model, "--data", data, "--target", "latency"}, `"latency"`},
	} {
		code, _, errs := runCmd(append([]string{"predict"}, c.args...)...)
		if code != 2 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line naming %q", c.args, code, errs, c.want)
		}
	}
}

// TestScoredEqualsServed is issue 13's round trip: every forecast that
// `evaluate --forecasts` scores is what `predict --json` serves from the
// file cut after that forecast's origin (1e-6 relative), for every column
// of a multi-column file.
func TestScoredEqualsServed(t *testing.T) {
	model := servingArtifact(t)
	dir := t.TempDir()
	names := []string{"cpu", "mem"}
	cols := [][]float64{synth.Walk(700, 41), synth.Walk(700, 42)}
	data := filepath.Join(dir, "web.csv")
	writeMetrics(t, data, names, cols, 0, 700)
	scored := filepath.Join(dir, "scored.csv")
	if code, _, errs := runCmd("evaluate", "--model", model, "--data", data, "--horizon", "1,12,30", "--forecasts", scored); code != 0 {
		t.Fatalf("evaluate: exit %d: %s", code, errs)
	}
	b, err := os.ReadFile(scored)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "series,origin,horizon,forecast,actual,method" || len(lines) < 100 {
		t.Fatalf("%d lines, header %q", len(lines), lines[0])
	}
	type row struct {
		metric, h int
		forecast  float64
	}
	byOrigin := map[int][]row{}       // row index of the origin -> the model's scored forecasts from it
	switchByOrigin := map[int][]row{} // the same for the switch
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		origin, err := time.Parse("2006-01-02 15:04:05", f[1])
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		var r row
		if _, err := fmt.Sscan(f[2], &r.h); err != nil {
			t.Fatal(err)
		}
		if _, err := fmt.Sscan(f[3], &r.forecast); err != nil {
			t.Fatal(err)
		}
		r.metric = map[string]int{"web:cpu": 0, "web:mem": 1}[f[0]]
		if f[0] != "web:cpu" && f[0] != "web:mem" {
			t.Fatalf("series %q", f[0])
		}
		o := int(origin.Sub(metricsT0) / (5 * time.Minute))
		switch f[5] {
		case "model":
			byOrigin[o] = append(byOrigin[o], r)
		case "switch":
			switchByOrigin[o] = append(switchByOrigin[o], r)
		default:
			t.Fatalf("method %q", f[5])
		}
	}
	// The first, a middle and the last origin of each horizon's test set,
	// and a few more.
	var origins []int
	for o := range byOrigin {
		origins = append(origins, o)
	}
	slices.Sort(origins)
	picks := []int{origins[0], origins[len(origins)/3], origins[len(origins)/2], origins[len(origins)-1]}
	checked := 0
	for _, o := range picks {
		cut := filepath.Join(dir, fmt.Sprintf("cut%d.csv", o))
		writeMetrics(t, cut, names, cols, 0, o+1)
		code, out, errs := runCmd("predict", "--model", model, "--data", cut, "--json")
		if code != 0 {
			t.Fatalf("predict on rows up to %d: exit %d: %s", o, code, errs)
		}
		var got predictJSON
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		for _, r := range byOrigin[o] {
			if served := got.Predictions[r.metric][r.h-1]; !relNear(served, r.forecast, 1e-6) {
				t.Errorf("origin row %d, %s, h=%d: served %v, scored %v", o, names[r.metric], r.h, served, r.forecast)
			}
			checked++
		}
	}
	if checked < 8 {
		t.Fatalf("checked %d scored forecasts", checked)
	}

	// The switch's scored forecasts are what a service serving the switch
	// answers when fitted on the training and validation rows, as
	// evaluate fits it, and given the rows up to each later origin; at the
	// last validation row, what predict --switch answers on those rows.
	fc, err := forecast.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	times := make([]time.Time, 700)
	for i := range times {
		times[i] = metricsT0.Add(time.Duration(i) * 5 * time.Minute)
	}
	var d []baseline.Series
	for m, c := range cols {
		d = append(d, baseline.Series{Name: names[m], Times: times, Values: asWritten(c)})
	}
	rowsTo := func(n int) []baseline.Series {
		out := make([]baseline.Series, len(d))
		for i, s := range d {
			out[i] = s.Slice(0, n)
		}
		return out
	}
	fit := baseline.SplitOf(700).Fit()
	svc, err := serve.NewService(fc, rowsTo(fit), serve.ServiceOptions{Switch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	var later []int
	for o := range switchByOrigin {
		if o >= fit-1 {
			later = append(later, o)
		}
	}
	slices.Sort(later)
	if len(later) < 10 || later[0] != fit-1 {
		t.Fatalf("switch origins from the last validation row: %v", later)
	}
	checked = 0
	for _, o := range []int{later[0], later[1], later[len(later)/2], later[len(later)-1]} {
		ps, err := svc.Forecast(context.Background(), rowsTo(o+1))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range switchByOrigin[o] {
			if p := ps[r.metric]; p.Method != forecast.SwitchMethod || !relNear(p.Points[r.h-1].Value, r.forecast, 1e-9) {
				t.Errorf("origin row %d, %s, h=%d: served by %s %v, the switch scored %v", o, names[r.metric], r.h, p.Method, p.Points[r.h-1].Value, r.forecast)
			}
			checked++
		}
	}
	cut := filepath.Join(dir, "validation.csv")
	writeMetrics(t, cut, names, cols, 0, fit)
	code, out, errs := runCmd("predict", "--model", model, "--data", cut, "--json", "--switch")
	var got predictJSON
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("predict --switch: exit %d: %s", code, errs)
	}
	for _, r := range switchByOrigin[fit-1] {
		if served := got.Predictions[r.metric][r.h-1]; !relNear(served, r.forecast, 1e-9) {
			t.Errorf("predict --switch on the training and validation rows, %s, h=%d: %v, the switch scored %v", names[r.metric], r.h, served, r.forecast)
		}
		checked++
	}
	if checked < 12 {
		t.Fatalf("checked %d scored forecasts of the switch", checked)
	}
}
