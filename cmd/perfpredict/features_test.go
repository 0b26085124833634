package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/features"
)

func runFeaturesCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runMain(context.Background(), &cmdEnv{stdout: &out, stderr: &errb}, append([]string{"features"}, args...))
	return code, out.String(), errb.String()
}

// TestFeaturesCommand writes the matrix of a NAB series and checks it cell for
// cell against the library, through the file (--out --json) and stdout.
func TestFeaturesCommand(t *testing.T) {
	data := filepath.Join("..", "..", "testdata", "nab", "realKnownCause", "ec2_request_latency_system_failure.csv")
	s, _, err := features.Load(data, features.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g, _, err := features.Resample(s, features.GridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := features.Engineer(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "f.csv")
	code, stdout, stderr := runFeaturesCmd("--data", data, "--out", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum featuresSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, stdout)
	}
	if sum.Rows != want.Rows() || len(sum.Features) != want.Cols() || sum.Grid.Gaps != 1 || sum.Cadence != "5m0s" {
		t.Fatalf("summary %+v", sum)
	}
	file, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	code, csvOut, stderr := runFeaturesCmd("--data", data)
	if code != 0 || csvOut != string(file) {
		t.Fatalf("stdout CSV differs from --out (exit %d: %s)", code, stderr)
	}
	recs, err := csv.NewReader(bytes.NewReader(file)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != want.Rows()+1 || recs[0][0] != "timestamp" || strings.Join(recs[0][1:], ",") != strings.Join(want.Names, ",") {
		t.Fatalf("header %v, %d records", recs[0][:3], len(recs))
	}
	for i, rec := range recs[1:] {
		if rec[0] != features.FormatTime(want.Times[i]) {
			t.Fatalf("row %d time %s", i, rec[0])
		}
		for c, cell := range rec[1:] {
			v, err := strconv.ParseFloat(cell, 32)
			if err != nil || math.Float32bits(float32(v)) != math.Float32bits(want.Row(i)[c]) {
				t.Fatalf("row %d %s = %q, want %v", i, want.Names[c], cell, want.Row(i)[c])
			}
		}
	}
}

func TestFeaturesCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("timestamp,latency_ms\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,slow\n2024-01-01 00:02:00,3\n"), 0o644)
	empty := filepath.Join(dir, "empty.json")
	os.WriteFile(empty, nil, 0o644)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "--data is required"},
		{[]string{"--data", bad}, 2, `bad.csv:3: field "latency_ms": not a number: "slow"`},
		{[]string{"--data", empty}, 2, "empty.json: no samples"},
		{[]string{"--data", filepath.Join(dir, "none.csv")}, 2, "no such file"},
		{[]string{"--data", bad, "--json"}, 2, "give --out"},
		{[]string{"--data", bad, "--format", "xml"}, 2, `--format "xml"`},
		{[]string{"--data", bad, "--cadence", "-1m"}, 2, "must not be negative"},
	} {
		code, _, stderr := runFeaturesCmd(c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.msg)
		}
	}
	// --skip-invalid counts the bad row and goes on.
	code, stdout, stderr := runFeaturesCmd("--data", bad, "--skip-invalid")
	if code != 0 || !strings.Contains(stderr, "skipped 1 invalid rows") || strings.Count(stdout, "\n") != 3 {
		t.Fatalf("skip-invalid: exit %d, %q, %q", code, stderr, stdout)
	}
}
