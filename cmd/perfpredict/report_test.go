package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The table has the interval and scenario sections; a series from
// testdata/nab gets the shipped anomaly windows unless --labels names
// another file, and a broken label file is a usage error naming its line.
func TestTableIntervalsAndScenarios(t *testing.T) {
	data := filepath.Join(nabDir, "realAWSCloudwatch", "ec2_cpu_utilization_24ae8d.csv")
	code, stdout, stderr := runCmd("train", "--horizon", "1", "--baselines-only", "--data", data)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"probabilistic forecasts", "persistence (conformal)", "holt_winters (conformal)",
		"accuracy by scenario", "  normal ", "  anomaly "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	dir := t.TempDir()
	other := filepath.Join(dir, "w.json")
	os.WriteFile(other, []byte(`{"realKnownCause/nyc_taxi.csv": [["2014-11-01 19:00:00.000000", "2014-11-02 05:00:00.000000"]]}`), 0o644)
	code, stdout, stderr = runCmd("train", "--horizon", "1", "--baselines-only", "--data", data, "--labels", other)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "  anomaly ") || !strings.Contains(stdout, "  normal ") {
		t.Errorf("labels without this series: want no anomaly row:\n%s", stdout)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{\n \"a.csv\": [[\"2014-01-02\", \"2014-01-01\"]]\n}"), 0o644)
	code, _, stderr = runCmd("train", "--horizon", "1", "--baselines-only", "--data", data, "--labels", bad)
	if code != 2 || !strings.Contains(stderr, "bad.json") || !strings.Contains(stderr, "before it starts") {
		t.Errorf("bad label file: exit %d, stderr %q", code, stderr)
	}
}
