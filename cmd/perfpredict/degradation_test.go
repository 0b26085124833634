package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/internal/synth"
	"github.com/novacron/perfpredict/serve"
)

// TestServeCommands runs degradation and explain with their defaults on a
// forecaster of the design's 30-step horizon: the intervals are predict's,
// an SLO below the current level is breached for sure, and bad input is a
// one-line usage error.
func TestServeCommands(t *testing.T) {
	model := servingArtifact(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "web_cpu.csv")
	writeMetrics(t, data, []string{"cpu", "mem"}, [][]float64{synth.Walk(600, 31), synth.Walk(600, 32)}, 0, 600)

	code, out, errs := runCmd("degradation", "--model", model, "--data", data, "--json")
	if code != 0 {
		t.Fatalf("degradation with its defaults: exit %d: %s", code, errs)
	}
	var deg serve.Degradation
	if err := json.Unmarshal([]byte(out), &deg); err != nil {
		t.Fatalf("degradation output: %v\n%s", err, out)
	}
	if deg.Horizon != 30 || len(deg.Metrics) != 2 || len(deg.Metrics[0].Steps) != 30 || deg.Probability < 0 || deg.Probability > 1 ||
		deg.Metrics[0].Threshold.Above == nil || deg.Metrics[1].Metric != "mem" || deg.Metrics[0].Source != serve.SourceModel {
		t.Fatalf("degradation: %s", out)
	}
	// By default the probability is recalibrated on the file's latest 90
	// origins with outcomes (15% of 600 rows); --recalibrate=false leaves
	// it raw.
	if deg.Recalibrated != 90 || deg.RawProbability < 0 || deg.RawProbability > 1 {
		t.Errorf("recalibrated on %d outcomes, raw %v", deg.Recalibrated, deg.RawProbability)
	}
	code, out, errs = runCmd("degradation", "--model", model, "--data", data, "--json", "--recalibrate=false")
	var raw serve.Degradation
	if code != 0 || json.Unmarshal([]byte(out), &raw) != nil || raw.Recalibrated != 0 || raw.Probability != raw.RawProbability ||
		raw.RawProbability != deg.RawProbability {
		t.Errorf("--recalibrate=false: exit %d (%s), %+v", code, errs, raw)
	}
	code, out, errs = runCmd("predict", "--model", model, "--data", data, "--json")
	var pred predictJSON
	if code != 0 || json.Unmarshal([]byte(out), &pred) != nil {
		t.Fatalf("predict: exit %d: %s", code, errs)
	}
	for m, mf := range deg.Metrics {
		for h, s := range mf.Steps {
			if s.P50 != pred.Predictions[m][h] || s.P10 != pred.P10[m][h] || s.P90 != pred.P90[m][h] || !s.Time.Equal(pred.Times[h]) {
				t.Fatalf("%s h=%d: degradation %+v, predict %v (%v .. %v) at %v", mf.Metric, h+1, s,
					pred.Predictions[m][h], pred.P10[m][h], pred.P90[m][h], pred.Times[h])
			}
		}
	}
	// With --switch both answer from the switch, recalibrated on its
	// forecasts.
	code, out, errs = runCmd("degradation", "--model", model, "--data", data, "--json", "--switch")
	var sdeg serve.Degradation
	if code != 0 || json.Unmarshal([]byte(out), &sdeg) != nil || sdeg.Recalibrated != 90 {
		t.Fatalf("degradation --switch: exit %d (%s): %s", code, errs, out)
	}
	code, out, errs = runCmd("predict", "--model", model, "--data", data, "--json", "--switch")
	var spred predictJSON
	if code != 0 || json.Unmarshal([]byte(out), &spred) != nil {
		t.Fatalf("predict --switch: exit %d: %s", code, errs)
	}
	differ := 0
	for m, mf := range sdeg.Metrics {
		if mf.Method != "switch" || spred.Methods[m] != "switch" {
			t.Fatalf("%s: degradation by %q, predict by %q; want the switch", mf.Metric, mf.Method, spred.Methods[m])
		}
		for h, s := range mf.Steps {
			if s.P50 != spred.Predictions[m][h] || s.P10 != spred.P10[m][h] || s.P90 != spred.P90[m][h] {
				t.Fatalf("%s h=%d: degradation --switch %+v, predict --switch %v (%v .. %v)", mf.Metric, h+1, s,
					spred.Predictions[m][h], spred.P10[m][h], spred.P90[m][h])
			}
			if s.P50 != pred.Predictions[m][h] {
				differ++
			}
		}
	}
	if differ == 0 {
		t.Error("degradation --switch: every forecast is the model's")
	}
	// An SLO below the current level is breached for sure: a recommendation
	// with its evidence.
	code, out, errs = runCmd("degradation", "--model", model, "--data", data, "--slo", "cpu>0.01", "--horizon", "12")
	if code != 0 {
		t.Fatalf("degradation --slo: exit %d: %s", code, errs)
	}
	for _, want := range []string{"Degradation probability: 100.00% within 12 steps (1h0m0s)", "First likely breach: step 1", "scale out: P(cpu above 0.01 within 12 steps) = 1.00"} {
		if !strings.Contains(out, want) {
			t.Errorf("degradation output lacks %q:\n%s", want, out)
		}
	}

	code, out, errs = runCmd("explain", "--model", model, "--data", data, "--top", "3")
	if code != 0 {
		t.Fatalf("explain: exit %d: %s", code, errs)
	}
	for _, want := range []string{"Input importance", " 1. ", "rel_last@30", "diff@30", "one step is 5m0s", "now ", "5m ago", "35m ago",
		"latest measurement", "Integrated gradients"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}

	// Bad input: exit 2 with one line naming the problem.
	short := filepath.Join(dir, "short.csv")
	os.WriteFile(short, []byte("timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,2\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"degradation", "--model", model}, "--data"},
		{[]string{"degradation", "--model", model, "--data", data, "--horizon", "31"}, "forecasts at most 30 steps"},
		{[]string{"degradation", "--model", model, "--data", data, "--slo", "value=3"}, "METRIC>VALUE"},
		{[]string{"degradation", "--model", model, "--data", data, "--slo", "latency>3"}, `threshold for "latency"`},
		{[]string{"degradation", "--model", model, "--data", data, "--quantile", "1"}, "--quantile"},
		{[]string{"degradation", "--model", model, "--data", short}, "short.csv: 2 rows; the forecaster needs the last"},
		{[]string{"explain", "--model", model, "--data", "nope.csv"}, "nope.csv"},
		{[]string{"explain", "--model", model, "--data", short}, "short.csv"},
	} {
		code, _, errs := runCmd(c.args...)
		lines := strings.Count(strings.TrimSpace(errs), "\n") + 1
		if strings.Contains(errs, "Usage of") { // a flag error prints the usage too
			lines = 1
		}
		if code != 2 || !strings.Contains(errs, c.want) || lines > 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line naming %q", c.args, code, errs, c.want)
		}
	}
}

// FuzzSLOFlag: --slo values parse into a bound on a named metric, or fail
// with an error; never a panic.
func FuzzSLOFlag(f *testing.F) {
	for _, s := range []string{"latency>100", "cpu<5", "x>", ">3", "a>1e309", "a<NaN", "m>1>2", "value > 0.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		var l sloList
		if err := l.Set(v); err != nil {
			return
		}
		if len(l) != 1 || l[0].Metric == "" || (l[0].Above == nil) == (l[0].Below == nil) {
			t.Fatalf("%q: %+v", v, l)
		}
	})
}
