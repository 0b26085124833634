package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/lifecycle"
	"github.com/novacron/perfpredict/lifecycle/perfmodel"
)

const nabRDS = "../../testdata/nab/realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv"

// TestMonitorReplayBaseline replays the RDS series, whose level shifts in
// the test part (PROTOCOL.md), with the ridge AR baseline: the drift rule
// fires on the shifted level and the accuracy rule on the forecasts.
func TestMonitorReplayBaseline(t *testing.T) {
	code, out, errs := runCmd("monitor", "--model", "ridge_ar", "--data", nabRDS, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res struct {
		Forecaster struct{ Kind, Name string }
		Replayed   int `json:"replayed_rows"`
		Health     struct {
			Errors    int      `json:"errors"`
			Accuracy5 *float64 `json:"accuracy5"`
		}
		Drift struct {
			Features []struct {
				Feature string
				PSI     *float64
			}
			MaxJS float64 `json:"js_max"`
		}
		Alerts []struct {
			Rule   struct{ Name string }
			State  string
			Repeat bool
		}
		Actions map[string]int
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Forecaster.Kind != "baseline" || res.Forecaster.Name != "ridge_ar" || res.Replayed != 606 || res.Health.Errors != 288 {
		t.Fatalf("%+v", res)
	}
	fired := map[string]bool{}
	for _, a := range res.Alerts {
		if a.State == "firing" && !a.Repeat {
			fired[a.Rule.Name] = true
		}
	}
	if !fired["ModelDrift"] || !fired["ModelAccuracyDrop"] || fired["PredictionLatencyHigh"] {
		t.Errorf("fired %v", fired)
	}
	if res.Actions["retrain_with_recent_data"] == 0 || res.Drift.MaxJS <= 0.15 {
		t.Errorf("actions %v, drift %v", res.Actions, res.Drift.MaxJS)
	}
	for _, f := range res.Drift.Features {
		if strings.HasPrefix(f.Feature, "hour") || strings.HasPrefix(f.Feature, "dow") {
			t.Errorf("calendar feature %s monitored", f.Feature)
		}
	}
	// Human output names the forecaster.
	code, out, _ = runCmd("monitor", "--model", "persistence", "--data", nabRDS)
	if code != 0 || !strings.Contains(out, "forecaster: baseline persistence") || !strings.Contains(out, "ModelDrift [high] firing") {
		t.Fatalf("%d\n%s", code, out)
	}
}

func TestMonitorBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("alerts:\n  - name: x\n    condition: latency > 20ms\n    severity: high\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"monitor", "--data", nabRDS}, "--model and --data are required"},
		{[]string{"monitor", "--model", "ridge_ar", "--data", filepath.Join(dir, "none.csv")}, "none.csv"},
		{[]string{"monitor", "--model", "ridge_ar", "--data", nabRDS, "--rules", bad}, `bad.yaml:3:16: condition: unknown metric "latency"`},
		{[]string{"monitor", "--model", filepath.Join(dir, "nope.safetensors"), "--data", nabRDS}, "nope.safetensors"},
		{[]string{"monitor", "--model", "ridge_ar", "--data", nabRDS, "--bins", "1"}, "--bins"},
	}
	for _, c := range cases {
		code, _, errs := runCmd(c.args...)
		if code != 2 || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q (want %q)", c.args[1:], code, errs, c.want)
		}
	}
}

// TestMonitorReplayPipelineCheckpoint trains a small model the way the
// continuous-learning pipeline does (lifecycle/perfmodel) and replays the
// series with it: forecasts come from the model row by row, with their
// measured latencies.
func TestMonitorReplayPipelineCheckpoint(t *testing.T) {
	s, err := baseline.LoadCSV(nabRDS, "value")
	if err != nil {
		t.Fatal(err)
	}
	n := s.Len() * 70 / 100
	samples := make([]lifecycle.Sample, n)
	for i := range samples {
		samples[i] = lifecycle.Sample{Time: s.Times[i], Values: []float64{s.Values[i]}}
	}
	tr := perfmodel.Trainer{Opt: perfmodel.Options{Model: perfpredict.Config{Hidden: 8, Layers: 1, Head: []int{16, 8}, Steps: 16, Epochs: 3, Seed: 1}}}
	res, err := tr.Train(context.Background(), lifecycle.TrainRequest{Train: samples, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCmd("monitor", "--model", res.Checkpoint, "--data", nabRDS, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Forecaster struct{ Kind, Name, Latency string }
		Health     struct {
			Errors       int      `json:"errors"`
			FallbackRate *float64 `json:"fallback_rate"`
			P50          *float64 `json:"latency_p50_seconds"`
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Forecaster.Name != "perfmodel" || r.Forecaster.Latency != "per forecast" || r.Health.Errors != 288 ||
		r.Health.FallbackRate == nil || *r.Health.FallbackRate != 0 || r.Health.P50 == nil || *r.Health.P50 <= 0 {
		t.Fatalf("%s", out)
	}
}

// TestMonitorReplaysTrainEnsemble: a checkpoint of the train command is
// replayed as the average of its ensemble, exactly as evaluate scores it
// (the replay's MAE over the test rows is evaluate's one-step MAE), and
// with one network left the forecasts change.
func TestMonitorReplaysTrainEnsemble(t *testing.T) {
	dir := t.TempDir()
	data := writeSeries(t, dir, "ens", 700)
	out := filepath.Join(dir, "models")
	ckpt := filepath.Join(out, checkpointName)
	if code, _, errs := runCmd("train", "--json", "--data", data, "--horizon", "1", "--epochs", "2",
		"--hidden", "8", "--window", "24", "--ensemble", "2", "--out", out); code != 0 {
		t.Fatalf("train: exit %d: %s", code, errs)
	}
	replay := func() (networks int, mae float64) {
		t.Helper()
		code, stdout, errs := runCmd("monitor", "--model", ckpt, "--data", data, "--drift-window", "20", "--json")
		if code != 0 {
			t.Fatalf("monitor: exit %d: %s", code, errs)
		}
		var r struct {
			Forecaster struct{ Networks int }
			Health     struct {
				Errors int     `json:"errors"`
				MAE    float64 `json:"mae"`
			}
		}
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		if r.Health.Errors != 105 {
			t.Fatalf("%d scored forecasts, want the 105 test rows", r.Health.Errors)
		}
		return r.Forecaster.Networks, r.Health.MAE
	}
	evalMAE := func() float64 {
		t.Helper()
		code, stdout, errs := runCmd("evaluate", "--json", "--model", ckpt, "--data", data, "--horizon", "1")
		if code != 0 {
			t.Fatalf("evaluate: exit %d: %s", code, errs)
		}
		var r evalReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		return r.Series[0].Methods[lstmMethod].MAE
	}
	n, mae := replay()
	if want := evalMAE(); n != 2 || math.Abs(mae-want) > 1e-9*want {
		t.Fatalf("monitor: %d networks, MAE %v; evaluate's ensemble MAE %v", n, mae, want)
	}
	if code, stdout, _ := runCmd("monitor", "--model", ckpt, "--data", data, "--drift-window", "20"); code != 0 ||
		!strings.Contains(stdout, "the average of 2 networks") {
		t.Errorf("human output does not name the ensemble:\n%s", stdout)
	}
	if err := os.Rename(memberPath(ckpt, 1), filepath.Join(dir, "moved.safetensors")); err != nil {
		t.Fatal(err)
	}
	n1, mae1 := replay()
	if want := evalMAE(); n1 != 1 || mae1 == mae || math.Abs(mae1-want) > 1e-9*want {
		t.Errorf("one network: %d networks, MAE %v (ensemble %v); evaluate %v", n1, mae1, mae, want)
	}
}
