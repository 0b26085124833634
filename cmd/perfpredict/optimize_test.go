package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

const testTrace = "../../testdata/nab/realAWSCloudwatch/elb_request_count_8c0756.csv"

func runOptSimCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runMain(context.Background(), &cmdEnv{stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestOptimizeJSON(t *testing.T) {
	code, out, errs := runOptSimCmd("optimize", "--max-cost", "10000", "--min-performance", "0.95", "--zone", "us-east-1a", "--demand", testTrace, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got struct {
		Allocation struct {
			Items []struct {
				Type  string `json:"type"`
				Count int    `json:"count"`
			} `json:"items"`
			CostPerHour float64 `json:"cost_per_hour"`
		} `json:"allocation"`
		ExpectedPerformance *float64 `json:"expected_performance"`
		CostEstimate        *float64 `json:"cost_estimate"`
		Optimal             *bool    `json:"optimal"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.ExpectedPerformance == nil || got.CostEstimate == nil || got.Optimal == nil || len(got.Allocation.Items) == 0 {
		t.Fatalf("missing keys: %s", out)
	}
	if *got.ExpectedPerformance < 0.95 || *got.CostEstimate*730 > 10000 || !*got.Optimal || *got.CostEstimate != got.Allocation.CostPerHour {
		t.Fatalf("constraints not met: %s", out)
	}
}

func TestOptimizeInfeasibleAndBadInput(t *testing.T) {
	code, out, errs := runOptSimCmd("optimize", "--max-cost", "100", "--min-performance", "0.95", "--demand", testTrace, "--json")
	if code != 1 || !strings.Contains(errs, "infeasible") {
		t.Fatalf("infeasible: exit %d, %s", code, errs)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || got["feasible"] != false || got["cheapest_meeting_performance"] == nil || got["best_within_budget"] == nil {
		t.Fatalf("infeasible JSON: %v %s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "cat.json")
	if err := os.WriteFile(bad, []byte(`{"instance_types": [{"name": "x", "vcpu": -2, "price_per_hour": {"z": 1}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--min-performance", "NaN"},
		{"--min-performance", "-0.5"},
		{"--max-cost", "-3"},
		{"--zone", "nowhere-1a"},
		{"--cost-period", "week"},
		{"--catalog", bad},
		{"--catalog", "/nonexistent.json"},
		{"--demand", "/nonexistent.csv"},
		{"--horizon", "0"},
	} {
		code, _, errs := runOptSimCmd(append([]string{"optimize", "--demand", testTrace}, args...)...)
		if code != 2 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	if _, _, errs := runOptSimCmd("optimize", "--demand", testTrace, "--catalog", bad); !strings.Contains(errs, "instance_types[0].vcpu") {
		t.Errorf("catalogue error does not name the field: %s", errs)
	}
}

func TestOptimizeCalibratedAndLimited(t *testing.T) {
	hist := filepath.Join(t.TempDir(), "hist.csv")
	// 200 req/s per busy vCPU: 8 vCPUs at 50% serve 800 req/s.
	if err := os.WriteFile(hist, []byte("throughput_rps,vcpus,cpu_utilization,latency_ms\n800,8,0.5,30\n1200,8,0.75,33\n400,8,0.25,29\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runOptSimCmd("optimize", "--demand", testTrace, "--history", hist, "--type-limit", "c6i.large=2",
		"--type-limit", "c6i.xlarge=0", "--min-memory-gib", "300", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got struct {
		Allocation struct {
			Items []struct {
				Type  string `json:"type"`
				Count int    `json:"count"`
			} `json:"items"`
			MemoryGiB float64 `json:"memory_gib"`
		} `json:"allocation"`
		Capacity struct {
			ServiceRate float64 `json:"service_rate_per_vcpu"`
		} `json:"capacity"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Capacity.ServiceRate != 200 || !strings.Contains(errs, "calibrated on 3 intervals") {
		t.Fatalf("calibration: %+v, %s", got.Capacity, errs)
	}
	if got.Allocation.MemoryGiB < 300 {
		t.Fatalf("memory %v below 300 GiB", got.Allocation.MemoryGiB)
	}
	for _, it := range got.Allocation.Items {
		if (it.Type == "c6i.large" && it.Count > 2) || it.Type == "c6i.xlarge" {
			t.Fatalf("type limit broken: %+v", got.Allocation.Items)
		}
	}
	for _, bad := range []string{"c6i.large", "c6i.large=-1", "=3", "c6i.large=x"} {
		if code, _, _ := runOptSimCmd("optimize", "--demand", testTrace, "--type-limit", bad); code != 2 {
			t.Errorf("--type-limit %q: exit %d", bad, code)
		}
	}
	if code, _, errs := runOptSimCmd("optimize", "--demand", testTrace, "--type-limit", "x9.huge=1"); code != 2 || !strings.Contains(errs, "x9.huge") {
		t.Errorf("unknown type: exit %d %s", code, errs)
	}
}

func TestOptimizeText(t *testing.T) {
	code, out, errs := runOptSimCmd("optimize", "--max-cost", "2", "--cost-period", "hour", "--min-performance", "0.9", "--zone", "eu-west-1a", "--demand", testTrace)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"Optimal allocation:", "Expected performance:", "Cost estimate:", "Optimal:"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

// tinyForecasterFile trains a forecaster small enough for a test on ramping
// demand and saves it.
func tinyForecasterFile(t *testing.T) string {
	t.Helper()
	var series []baseline.Series
	for s := range 3 {
		v := make([]float64, 300)
		level, slope := 1000.0, 15.0*float64(s+1)
		for i := range v {
			if i%60 == 0 {
				slope = -slope
			}
			level += slope + 8*math.Sin(float64(i*(s+3)))
			v[i] = level
		}
		series = append(series, baseline.Series{Name: "demand", Values: v})
	}
	opts := forecast.DefaultOptions()
	opts.Window, opts.ScaleWindow, opts.Horizon = 8, 16, 4
	opts.Hidden, opts.Head, opts.Epochs, opts.Ensemble, opts.SwitchTrees = 4, []int{8}, 2, 1, nil
	fc, err := forecast.Train(context.Background(), series, opts)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "forecaster.zip")
	if err := fc.Save(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func demandFile(t *testing.T, name string, v []float64) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, x := range v {
		fmt.Fprintf(&b, "%s,%g\n", start.Add(time.Duration(i)*5*time.Minute).Format("2006-01-02 15:04:05"), x)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// With --model the allocation covers the forecaster's p90 of the demand
// history over its horizon: a rising history needs more than a flat one at
// the same last value.
func TestOptimizeWithForecaster(t *testing.T) {
	model := tinyForecasterFile(t)
	rising, flat := make([]float64, 20), make([]float64, 20)
	for i := range rising {
		rising[i] = 3000 - 100*float64(len(rising)-1-i) + 7*math.Sin(float64(i))
		flat[i] = 3000 + 7*math.Sin(float64(i))
	}
	rising[len(rising)-1], flat[len(flat)-1] = 3000, 3000
	type result struct {
		Demand     string `json:"demand"`
		Intervals  int    `json:"intervals"`
		Allocation struct {
			VCPUs int `json:"vcpus"`
		} `json:"allocation"`
		CostEstimate float64 `json:"cost_estimate"`
		Peak         float64 `json:"demand_peak_rps"`
	}
	run := func(demand string) result {
		t.Helper()
		// A tight SLO (2 ms of queueing) makes the vCPUs follow the demand closely.
		code, out, errs := runOptSimCmd("optimize", "--model", model, "--demand", demand, "--median-rps", "0", "--min-performance", "1", "--slo-ms", "26", "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		var r result
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return r
	}
	r, f := run(demandFile(t, "rising.csv", rising)), run(demandFile(t, "flat.csv", flat))
	if r.Demand != "forecaster p90" || r.Intervals != 4 {
		t.Fatalf("planned %q over %d intervals, want the forecaster's p90 over its horizon 4", r.Demand, r.Intervals)
	}
	if !(r.Peak > f.Peak && r.Allocation.VCPUs > f.Allocation.VCPUs && r.CostEstimate > f.CostEstimate) {
		t.Fatalf("rising history: peak %.0f req/s, %d vCPU $%.3f/h; flat: peak %.0f req/s, %d vCPU $%.3f/h",
			r.Peak, r.Allocation.VCPUs, r.CostEstimate, f.Peak, f.Allocation.VCPUs, f.CostEstimate)
	}
	// Without --model: the seasonal naive plan of the same history.
	code, out, errs := runOptSimCmd("optimize", "--demand", demandFile(t, "flat2.csv", flat), "--median-rps", "0", "--horizon", "10", "--json")
	if code != 0 || !strings.Contains(out, `"demand":"seasonal naive`) {
		t.Fatalf("without --model: exit %d %s %s", code, errs, out)
	}
	for _, args := range [][]string{
		{"--model", "/nonexistent.zip", "--demand", testTrace},
		{"--model", testTrace, "--demand", testTrace}, // not an artifact
		{"--model", model, "--demand", demandFile(t, "short.csv", flat[:10])},
	} {
		code, _, errs := runOptSimCmd(append([]string{"optimize"}, args...)...)
		if code != 2 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
}

// The default demand trace is found from any folder of the repository.
func TestOptimizeDefaultDemandFromSubfolder(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(wd, "..", "..", "optimize"))
	if code, _, errs := runOptSimCmd("optimize", "--max-cost", "10000"); code != 0 {
		t.Fatalf("from optimize/: exit %d, %s", code, errs)
	}
	t.Chdir(t.TempDir())
	if code, _, errs := runOptSimCmd("optimize"); code != 2 || !strings.Contains(errs, "--demand") {
		t.Fatalf("outside the repository: exit %d, %s (want a hint at --demand)", code, errs)
	}
}
