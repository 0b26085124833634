package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/internal/synth"
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
		{[]string{"monitor", "--model", filepath.Join(dir, "nope.zip"), "--data", nabRDS}, "nope.zip"},
		{[]string{"monitor", "--model", "ridge_ar", "--data", nabRDS, "--device", "tpu"}, "--device"},
		{[]string{"monitor", "--model", "ridge_ar", "--data", nabRDS, "--bins", "1"}, "--bins"},
	}
	for _, c := range cases {
		code, _, errs := runCmd(c.args...)
		if code != 2 || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q (want %q)", c.args[1:], code, errs, c.want)
		}
	}
}

// TestMonitorReplaysForecaster: a forecaster artifact is replayed as
// serve.Service serves it, by default with the switch (fitted on the train
// and validation rows and fed each test row, evaluate's switch row), with
// --switch=false the ensemble alone; the replay's one-step MAE over the
// test rows is that of the switch's forecasts, or the forecaster's
// Forecast, at every test origin, and every call's latency is measured.
func TestMonitorReplaysForecaster(t *testing.T) {
	model := servingArtifact(t)
	fc, err := forecast.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "ens.csv")
	v := synth.Walk(700, 21)
	writeMetrics(t, data, []string{"value"}, [][]float64{v}, 0, len(v))
	code, stdout, errs := runCmd("monitor", "--model", model, "--data", data, "--drift-window", "20", "--json", "--switch=false")
	if code != 0 {
		t.Fatalf("monitor: exit %d: %s", code, errs)
	}
	var r struct {
		Forecaster struct {
			Kind, Name, Version, Latency string
			Networks                     int
		}
		Health struct {
			Errors       int      `json:"errors"`
			Predictions  int      `json:"predictions"`
			MAE          float64  `json:"mae"`
			FallbackRate *float64 `json:"fallback_rate"`
			P50          *float64 `json:"latency_p50_seconds"`
		}
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	start := baseline.SplitOf(len(v)).TestStart()
	sum := 0.0
	for j := start; j < len(v); j++ {
		f, err := fc.Forecast(context.Background(), v[:j])
		if err != nil {
			t.Fatal(err)
		}
		sum += math.Abs(f.Points[0].Value - v[j])
	}
	want := sum / float64(len(v)-start)
	if r.Forecaster.Kind != "model" || r.Forecaster.Networks != 2 || !strings.HasPrefix(r.Forecaster.Version, "sha256:") ||
		r.Health.Errors != len(v)-start || r.Health.FallbackRate == nil || *r.Health.FallbackRate != 0 ||
		r.Health.P50 == nil || *r.Health.P50 <= 0 || !relNear(r.Health.MAE, want, 1e-6) {
		t.Fatalf("replay %+v; Forecast's MAE over the %d test rows %v\n%s", r, len(v)-start, want, stdout)
	}
	if code, stdout, _ := runCmd("monitor", "--model", model, "--data", data, "--drift-window", "20", "--switch=false"); code != 0 ||
		!strings.Contains(stdout, "the average of 2 networks") {
		t.Errorf("human output does not name the ensemble:\n%s", stdout)
	}
	// By default: a switch fitted on the train and validation rows, fed
	// each test row.
	code, stdout, errs = runCmd("monitor", "--model", model, "--data", data, "--drift-window", "20", "--json")
	if code != 0 || json.Unmarshal([]byte(stdout), &r) != nil {
		t.Fatalf("monitor: exit %d: %s%s", code, errs, stdout)
	}
	vr := asWritten(v)
	sp := baseline.SplitOf(len(v))
	sw := forecast.NewSwitch(fc)
	if err := sw.Fit(baseline.Series{Values: vr[:sp.Fit()]}, baseline.SplitOf(sp.Fit()).Train); err != nil {
		t.Fatal(err)
	}
	sum = 0
	for j := start; j < len(v); j++ { // start is the end of the validation rows
		if j > start {
			sw.Update(vr[j-1])
		}
		p, err := sw.Forecast(1)
		if err != nil {
			t.Fatal(err)
		}
		sum += math.Abs(p - vr[j])
	}
	if want := sum / float64(len(v)-start); r.Forecaster.Name != "switch" || !relNear(r.Health.MAE, want, 1e-9) || r.Health.Errors != len(v)-start {
		t.Errorf("monitor: %+v; the switch's MAE over the test rows %v", r, want)
	}
}

// TestMonitorFiguresAgree: on a file too short for the drift rules, the
// report shows no drift figure rather than one the rules never saw, and
// the health figures are shown beside the daily MAPE they agree with
// (issue 15, defect 6: "MAPE -" beside "daily MAPE 2.73%", and an
// end-of-file PSI of 2.5 beside "max PSI 0.000" with no drift alert).
func TestMonitorFiguresAgree(t *testing.T) {
	data := filepath.Join(t.TempDir(), "short.csv")
	v := synth.Walk(160, 5)
	for i := 140; i < 160; i++ {
		v[i] += 40 // a level shift in the test rows
	}
	writeMetrics(t, data, []string{"value"}, [][]float64{v}, 0, len(v))
	code, stdout, errs := runCmd("monitor", "--model", "persistence", "--data", data, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Health struct {
			Errors int      `json:"errors"`
			MAPE   *float64 `json:"mape"`
		}
		DailyMAPE []struct{ MAPE float64 } `json:"daily_mape"`
		Drift     *struct{}                `json:"drift"`
		MaxDrift  map[string]float64       `json:"max_drift"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if r.Drift != nil || len(r.MaxDrift) != 0 {
		t.Errorf("drift at end %v and during the replay %v: the %d replayed rows never filled the rules' window", r.Drift, r.MaxDrift, r.Health.Errors)
	}
	if len(r.DailyMAPE) > 0 && r.Health.MAPE == nil {
		t.Errorf("health MAPE missing beside daily MAPE %v", r.DailyMAPE)
	}
	code, stdout, _ = runCmd("monitor", "--model", "persistence", "--data", data)
	if code != 0 || !strings.Contains(stdout, "drift: not measured") || strings.Contains(stdout, "MAPE -") {
		t.Errorf("human report:\n%s", stdout)
	}
}
