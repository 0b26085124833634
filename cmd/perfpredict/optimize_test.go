package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
