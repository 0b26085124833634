package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/serve"
)

const serveSeries = "../../testdata/nab/realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv"

// serveCheckpoint trains a tiny model of the train command's recipe on the
// NAB series, forecasting 30 steps, and saves it.
func serveCheckpoint(t *testing.T) string {
	t.Helper()
	s, err := baseline.LoadCSV(serveSeries, "")
	if err != nil {
		t.Fatal(err)
	}
	d := serve.FromSeries(s, "value")
	fz, err := serve.FitProtocol(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := perfpredict.Config{Hidden: 8, Layers: 1, Head: []int{16}, Dropout: -1, Steps: 24, BatchSize: 64,
		LearningRate: 3e-3, Epochs: 2, Patience: 2, Seed: 1}
	m, _, err := serve.Train(context.Background(), d, fz, serve.TrainOptions{Config: cfg, Horizon: 30, Stride: 4})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServeCommands(t *testing.T) {
	model := serveCheckpoint(t)

	code, out, errs := runCmd("predict", "--model", model, "--data", serveSeries, "--json")
	if code != 0 {
		t.Fatalf("predict --data: exit %d: %s", code, errs)
	}
	var pred struct {
		Predictions [][]float64 `json:"predictions"`
		Attention   [][]float64 `json:"attention"`
		Metrics     []string    `json:"metrics"`
		Source      string      `json:"source"`
		Version     string      `json:"version"`
	}
	if err := json.Unmarshal([]byte(out), &pred); err != nil {
		t.Fatalf("predict --data output: %v\n%s", err, out)
	}
	if len(pred.Predictions) != 1 || len(pred.Predictions[0]) != 30 || len(pred.Attention[0]) != 24 || pred.Source != "model" ||
		!strings.HasPrefix(pred.Version, "sha256:") {
		t.Errorf("predict --data: %+v", pred)
	}
	for _, v := range pred.Predictions[0] {
		if math.IsNaN(v) || v < 0 || v > 100 { // CPU utilisation in percent
			t.Errorf("forecast %v is not a CPU percentage", v)
		}
	}

	code, out, errs = runCmd("predict", "--model", model, "--data", serveSeries, "--accuracy")
	if code != 0 {
		t.Fatalf("predict --accuracy: exit %d: %s", code, errs)
	}
	for _, want := range []string{"Prediction accuracy by metric", "Accuracy (5%)", "MAPE", "value "} {
		if !strings.Contains(out, want) {
			t.Errorf("predict --accuracy output lacks %q:\n%s", want, out)
		}
	}

	code, out, errs = runCmd("degradation", "--model", model, "--data", serveSeries, "--horizon", "30", "--json")
	if code != 0 {
		t.Fatalf("degradation: exit %d: %s", code, errs)
	}
	var deg serve.Degradation
	if err := json.Unmarshal([]byte(out), &deg); err != nil {
		t.Fatalf("degradation output: %v\n%s", err, out)
	}
	if deg.Horizon != 30 || len(deg.Metrics) != 1 || len(deg.Metrics[0].Steps) != 30 || deg.Probability < 0 || deg.Probability > 1 ||
		deg.Metrics[0].Threshold.Above == nil {
		t.Errorf("degradation: %+v", deg)
	}
	// An SLO below the current level is breached for sure: a recommendation
	// with its evidence.
	code, out, errs = runCmd("degradation", "--model", model, "--data", serveSeries, "--slo", "value>0.01")
	if code != 0 {
		t.Fatalf("degradation --slo: exit %d: %s", code, errs)
	}
	for _, want := range []string{"Degradation probability: 100.00%", "First likely breach: step 1", "scale out: P(value above 0.01 within 30 steps) = 1.00"} {
		if !strings.Contains(out, want) {
			t.Errorf("degradation output lacks %q:\n%s", want, out)
		}
	}

	code, out, errs = runCmd("explain", "--model", model, "--data", serveSeries, "--top", "3")
	if code != 0 {
		t.Fatalf("explain: exit %d: %s", code, errs)
	}
	for _, want := range []string{"Feature importance", " 1. ", "Time Step", "t-1 ", "t-10", "Integrated gradients"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	t.Log("\n" + out)

	// Bad input: exit 2 with one line naming the problem.
	short := filepath.Join(t.TempDir(), "short.csv")
	os.WriteFile(short, []byte("timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,2\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"degradation", "--model", model}, "--data"},
		{[]string{"degradation", "--model", model, "--data", serveSeries, "--horizon", "31"}, "horizon 31"},
		{[]string{"degradation", "--model", model, "--data", serveSeries, "--slo", "value=3"}, "METRIC>VALUE"},
		{[]string{"degradation", "--model", model, "--data", serveSeries, "--slo", "latency>3"}, `threshold for "latency"`},
		{[]string{"predict", "--model", model, "--data", short}, "short.csv"},
		{[]string{"explain", "--model", model, "--data", "nope.csv"}, "nope.csv"},
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
