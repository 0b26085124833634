package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shortTraceFile writes the first n lines of the NAB trace.
func shortTraceFile(t *testing.T, n int) string {
	t.Helper()
	data, err := os.ReadFile(testTrace)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(data), "\n", n+2)
	p := filepath.Join(t.TempDir(), "trace.csv")
	if err := os.WriteFile(p, []byte(strings.Join(lines[:n+1], "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSimulateJSON(t *testing.T) {
	tr := shortTraceFile(t, 200)
	code, out, errs := runOptSimCmd("simulate", "--trace", tr, "--slice-seconds", "0.25", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got map[string]map[string]*float64
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	keys := []string{"latency_avg_ms", "latency_p95_ms", "latency_p99_ms", "throughput_rps", "error_rate", "utilization"}
	for _, part := range []string{"static", "tuned", "change_pct"} {
		for _, k := range keys {
			if _, ok := got[part][k]; !ok {
				t.Errorf("%s.%s missing in %s", part, k, out)
			}
		}
	}
	for _, part := range []string{"static", "tuned"} {
		for _, k := range keys {
			if got[part][k] == nil {
				t.Fatalf("%s.%s is null", part, k)
			}
		}
	}
	if s := *got["static"]["latency_avg_ms"]; !(s > 0) {
		t.Fatalf("static latency %v", s)
	}
	want := 100 * (*got["tuned"]["latency_avg_ms"] - *got["static"]["latency_avg_ms"]) / *got["static"]["latency_avg_ms"]
	if d := *got["change_pct"]["latency_avg_ms"] - want; d > 1e-9 || d < -1e-9 {
		t.Fatalf("change %v, want %v", *got["change_pct"]["latency_avg_ms"], want)
	}
	// Same trace and seed: the static run is reproducible.
	_, out2, _ := runOptSimCmd("simulate", "--trace", tr, "--slice-seconds", "0.25", "--json")
	if out2 != out {
		t.Fatal("two runs with the same seed differ")
	}
}

func TestSimulateTableAndBadInput(t *testing.T) {
	tr := shortTraceFile(t, 60)
	code, out, errs := runOptSimCmd("simulate", "--trace", tr, "--slice-seconds", "0.25")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"Average Latency", "P95 Latency", "P99 Latency", "Throughput", "Error Rate", "Resource Utilization"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	gap := filepath.Join(t.TempDir(), "gap.csv")
	if err := os.WriteFile(gap, []byte("timestamp,value\n2014-04-10 00:04:00,94.0\n2014-04-10 00:09:00,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--trace", gap},
		{"--trace", "/nonexistent.csv"},
		{"--trace", tr, "--median-rps", "-5"},
		{"--trace", tr, "--slice-seconds", "0"},
		{"--trace", tr, "--max-step", "0"},
	} {
		code, _, errs := runOptSimCmd(append([]string{"simulate"}, args...)...)
		if code != 2 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	if _, _, errs := runOptSimCmd("simulate", "--trace", gap); !strings.Contains(errs, ":3:") {
		t.Errorf("gap error does not name the line: %s", errs)
	}
}
