package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/integration/sim"
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
	args := []string{"simulate", "--trace", tr, "--slice-seconds", "0.1", "--forecast-epochs", "2", "--json"}
	code, out, errs := runOptSimCmd(args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	keys := []string{"latency_avg_ms", "latency_p95_ms", "latency_p99_ms", "throughput_rps", "error_rate", "utilization"}
	runs := map[string]map[string]*float64{}
	for _, part := range []string{"static", "reactive", "forecast"} {
		var m map[string]*float64
		if err := json.Unmarshal(got[part], &m); err != nil {
			t.Fatalf("%s: %v in %s", part, err, out)
		}
		runs[part] = m
		for _, k := range keys {
			if runs[part][k] == nil {
				t.Errorf("%s.%s missing or null in %s", part, k, out)
			}
		}
	}
	if t.Failed() {
		return
	}
	if s := *runs["static"]["latency_avg_ms"]; !(s > 0) {
		t.Fatalf("static latency %v", s)
	}
	var meta struct {
		Split, Intervals int
		Phases           map[string]map[string]struct{ Intervals int }
	}
	if err := json.Unmarshal([]byte(out), &meta); err != nil || meta.Split != 100 || meta.Intervals != 200 || len(meta.Phases["forecast"]) != 3 {
		t.Fatalf("split/intervals/phases: %+v, %v", meta, err)
	}
	// Same trace and seed: the three runs are reproducible.
	_, out2, _ := runOptSimCmd(args...)
	if out2 != out {
		t.Fatal("two runs with the same seed differ")
	}
}

// --telemetry writes the static run's telemetry, which train reads with
// --target: the timestamps are the trace's own.
func TestSimulateTelemetryLoadsForTrain(t *testing.T) {
	tr := shortTraceFile(t, 200)
	tel := filepath.Join(t.TempDir(), "telemetry.csv")
	code, _, errs := runOptSimCmd("simulate", "--trace", tr, "--slice-seconds", "0.1", "--forecast-epochs", "1", "--telemetry", tel, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	data, err := os.ReadFile(tel)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 201 || !strings.HasPrefix(lines[0], "timestamp,latency_ms,throughput_rps,error_rate,cpu_utilization,memory_mib,compression_ratio,consensus_ms") ||
		!strings.HasPrefix(lines[1], "2014-04-10T00:04:00Z,") || !strings.HasPrefix(lines[2], "2014-04-10T00:09:00Z,") {
		t.Fatalf("telemetry: %d lines, header %q, first rows %q %q", len(lines), lines[0], lines[1], lines[2])
	}
	for _, col := range []string{"latency_ms", "consensus_ms", "compression_ratio", "memory_mib"} {
		s, err := baseline.LoadCSV(tel, col)
		if err != nil || s.Len() != 200 {
			t.Fatalf("%s: %v (%d rows)", col, err, s.Len())
		}
	}
	code, out, errs := runOptSimCmd("train", "--data", tel, "--target", "consensus_ms,latency_ms", "--window", "8", "--scale-window", "16",
		"--horizon", "1,4", "--hidden", "4", "--epochs", "1", "--ensemble", "1", "--out", "")
	if code != 0 || !strings.Contains(out, "consensus_ms") || !strings.Contains(out, "latency_ms") {
		t.Fatalf("train on the telemetry: exit %d, %s\n%s", code, errs, out)
	}
	if code, _, errs := runOptSimCmd("simulate", "--trace", tr, "--telemetry", filepath.Join(t.TempDir(), "no", "such", "dir", "t.csv")); code != 2 || !strings.Contains(errs, "--telemetry") {
		t.Fatalf("unwritable --telemetry: exit %d, %s", code, errs)
	}
}

// The default trace is found from any folder of the repository.
func TestSimulateDefaultTraceFromSubfolder(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(wd, "..", "..", "integration", "sim"))
	if got := findInRepo(sim.DefaultTrace); !filepath.IsAbs(got) {
		t.Fatalf("default trace not found from integration/sim: %q", got)
	}
	t.Chdir(t.TempDir())
	code, _, errs := runOptSimCmd("simulate")
	if code != 2 || !strings.Contains(errs, "--trace") {
		t.Fatalf("outside the repository: exit %d, %s (want a hint at --trace)", code, errs)
	}
}

func TestSimulateTableAndBadInput(t *testing.T) {
	tr := shortTraceFile(t, 200)
	code, out, errs := runOptSimCmd("simulate", "--trace", tr, "--slice-seconds", "0.1", "--forecast-epochs", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"Average Latency", "P95 Latency", "P99 Latency", "Throughput", "Error Rate", "Resource Utilization",
		"Static", "Reactive", "Forecast", "peak", "ramp", "calm", "Forecasts given"} {
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
		{"--trace", tr, "--split", "1"},
		{"--trace", tr, "--lookahead", "0"},
		{"--trace", tr, "--lookahead", "99"},
		{"--trace", tr, "--plan", "p75"},
		{"--trace", tr, "--forecast-epochs", "0"},
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
