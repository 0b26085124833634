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
)

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = runMain(context.Background(), &cmdEnv{stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

var nabDir = filepath.Join("..", "..", "testdata", "nab")

// TestTrainJSONReproducesBaselines runs `train --json` on two NAB series and
// checks every baseline's MASE against the reference values (PROTOCOL.md's
// table for ridge AR; numpy and statsmodels for the others) within 2%.
func TestTrainJSONReproducesBaselines(t *testing.T) {
	code, stdout, stderr := runCmd("train", "--json", "--baselines-only",
		"--data", filepath.Join(nabDir, "realAWSCloudwatch", "ec2_cpu_utilization_5f5533.csv"),
		"--data", filepath.Join(nabDir, "realKnownCause", "ec2_request_latency_system_failure.csv"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep evalReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	want := map[string][2]map[string]float64{
		"ec2_cpu_utilization_5f5533": {
			{"persistence": 0.2532, "seasonal_naive": 0.1515, "ma12": 0.1607, "holt_winters": 0.177, "ridge_ar": 0.138},
			{"persistence": 0.1537, "seasonal_naive": 0.1515, "ma12": 0.1580, "holt_winters": 0.176, "ridge_ar": 0.141},
		},
		"ec2_request_latency_system_failure": {
			{"persistence": 1.1639, "seasonal_naive": 0.9763, "ma12": 0.7051, "holt_winters": 0.746, "ridge_ar": 0.643},
			{"persistence": 0.8228, "seasonal_naive": 0.9763, "ma12": 0.6938, "holt_winters": 0.740, "ridge_ar": 0.682},
		},
	}
	if len(rep.Series) != 4 {
		t.Fatalf("%d rows, want 2 series x 2 horizons", len(rep.Series))
	}
	for _, row := range rep.Series {
		idx := map[int]int{1: 0, 12: 1}[row.Horizon]
		w, ok := want[row.Name]
		if !ok {
			t.Fatalf("unexpected series %q", row.Name)
		}
		if row.Targets != 606 {
			t.Errorf("%s h=%d: %d targets, want 606", row.Name, row.Horizon, row.Targets)
		}
		for m, v := range w[idx] {
			got, ok := row.Methods[m]
			if !ok {
				t.Errorf("%s h=%d: no %s", row.Name, row.Horizon, m)
				continue
			}
			if math.Abs(got.MASE-v) > 0.02*v {
				t.Errorf("%s h=%d %s: MASE %.4f, reference %.4f", row.Name, row.Horizon, m, got.MASE, v)
			}
		}
	}
	if rep.Summary.Series != 2 || rep.Summary.Best["1"] != "ridge_ar" {
		t.Errorf("summary %+v", rep.Summary)
	}
	// The summary is the geometric mean of the rows' MASE.
	g := math.Sqrt(0.138 * 0.643)
	if v := float64(rep.Summary.GeoMeanMASE["1"]["ridge_ar"]); math.Abs(v-g) > 0.02*g {
		t.Errorf("ridge_ar h=1 geometric mean %.4f, want %.4f", v, g)
	}
}

func TestTrainTable(t *testing.T) {
	code, stdout, stderr := runCmd("train", "--horizon", "3", "--baselines-only",
		"--data", filepath.Join(nabDir, "realAWSCloudwatch", "ec2_cpu_utilization_5f5533.csv"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"ec2_cpu_utilization_5f5533  h=3  (606 test targets)", "ridge_ar", "geometric mean of MASE over 1 series", "h=3"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "h=12") {
		t.Errorf("--horizon 3 printed h=12:\n%s", stdout)
	}
}

func TestTrainBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rows := func(n int, val func(i int) string) string {
		var b strings.Builder
		b.WriteString("timestamp,value\n")
		for i := range n {
			fmt.Fprintf(&b, "2024-01-01 %02d:%02d:00,%s\n", (i/12)%24, (i%12)*5, val(i))
		}
		return b.String()
	}
	short := write("short.csv", rows(50, func(i int) string { return fmt.Sprint(i % 7) }))
	flat := write("flat.csv", rows(200, func(int) string { return "3.5" }))
	noCol := write("nocol.csv", "timestamp,cpu,mem\n2024-01-01 00:00:00,1,2\n")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no target column", []string{"--data", noCol}, `no "value" column`},
		{"named target missing", []string{"--data", short, "--target", "latency"}, `target column "latency"`},
		{"too short", []string{"--data", short}, "too few"},
		{"too short for the window", []string{"--data", write("mid.csv", rows(200, func(i int) string { return fmt.Sprint(i % 7) })), "--window", "130"}, "130-step window"},
		{"constant", []string{"--data", flat}, "nothing to forecast"},
		{"bad horizon", []string{"--horizon", "0"}, "--horizon"},
		{"missing file", []string{"--data", filepath.Join(dir, "nope.csv")}, "nope.csv"},
	}
	for _, c := range cases {
		code, _, stderr := runCmd(append([]string{"train"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", c.name, code, stderr, c.want)
		}
		if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
			t.Errorf("%s: message is %d lines, want one: %q", c.name, n+1, stderr)
		}
	}
}

// writeSeries writes a 5-minute CSV of n steps: a daily cycle plus a
// deterministic wobble.
func writeSeries(t *testing.T, dir, name string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	t0 := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		v := 50 + 10*math.Sin(2*math.Pi*float64(i)/288) + 3*math.Sin(float64(i)*0.7) + 0.01*float64(i)
		fmt.Fprintf(&b, "%s,%.4f\n", t0.Add(time.Duration(i)*5*time.Minute).Format("2006-01-02 15:04:05"), v)
	}
	p := filepath.Join(dir, name+".csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTrainEvaluateRoundTrip trains one model briefly on two short series,
// then evaluates the saved checkpoint on one of them: every metric, the
// network's and the model's included, and the combination chosen on the
// validation split must be identical to train's rows for that series.
func TestTrainEvaluateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	data := writeSeries(t, dir, "short", 700)
	other := writeSeries(t, dir, "other", 800)
	out := filepath.Join(dir, "models")
	code, trainOut, stderr := runCmd("train", "--json", "--data", data, "--data", other, "--horizon", "1,3", "--epochs", "2",
		"--hidden", "8", "--window", "24", "--out", out)
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "epoch 2/2") || !strings.Contains(stderr, "saved to") || !strings.Contains(stderr, "model: 2 series") {
		t.Errorf("no progress, model or checkpoint line on stderr:\n%s", stderr)
	}
	ckpt := filepath.Join(out, checkpointName)
	code, evalOut, stderr := runCmd("evaluate", "--json", "--model", ckpt, "--data", data)
	if code != 0 {
		t.Fatalf("evaluate: exit %d: %s", code, stderr)
	}
	var a, b evalReport
	if err := json.Unmarshal([]byte(trainOut), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(evalOut), &b); err != nil {
		t.Fatal(err)
	}
	if len(a.Series) != 4 || len(b.Series) != 2 {
		t.Fatalf("rows: train %d, evaluate %d; want 4 (2 series, h=1, h=3) and 2", len(a.Series), len(b.Series))
	}
	for i, rb := range b.Series {
		ra := a.Series[i]
		if ra.Name != "short" || ra.Horizon != rb.Horizon {
			t.Fatalf("row %d: train %s h=%d, evaluate %s h=%d", i, ra.Name, ra.Horizon, rb.Name, rb.Horizon)
		}
		for _, m := range []string{lstmMethod, modelMethod} {
			if _, ok := ra.Methods[m]; !ok {
				t.Fatalf("train row %d has no %s", i, m)
			}
		}
		if ra.Combination == nil || rb.Combination == nil || *ra.Combination != *rb.Combination {
			t.Errorf("h=%d: combination train %+v, evaluate %+v", ra.Horizon, ra.Combination, rb.Combination)
		}
		for name, ma := range ra.Methods {
			mb, ok := rb.Methods[name]
			if !ok {
				t.Errorf("h=%d: evaluate lacks %s", ra.Horizon, name)
				continue
			}
			if ma.MAE != mb.MAE || ma.RMSE != mb.RMSE || ma.MASE != mb.MASE || ma.Accuracy5 != mb.Accuracy5 || ma.N != mb.N {
				t.Errorf("h=%d %s: train %+v, evaluate %+v", ra.Horizon, name, ma, mb)
			}
		}
	}
}

// TestCombinationIgnoresTestSplit: the combination is chosen on the
// validation split alone, so rewriting every test value of the file leaves
// it unchanged (while the test metrics change).
func TestCombinationIgnoresTestSplit(t *testing.T) {
	dir := t.TempDir()
	data := writeSeries(t, dir, "s", 700)
	out := filepath.Join(dir, "models")
	if code, _, stderr := runCmd("train", "--data", data, "--horizon", "1,3", "--epochs", "1", "--hidden", "8",
		"--window", "24", "--out", out); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	start := 1 + 700*70/100 + 700*15/100 // header + train + validation
	for i := start; i < len(lines); i++ {
		ts, v, _ := strings.Cut(lines[i], ",")
		var f float64
		fmt.Sscan(v, &f)
		lines[i] = fmt.Sprintf("%s,%.4f", ts, 2*f+7)
	}
	changed := filepath.Join(dir, "changed.csv")
	if err := os.WriteFile(changed, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	eval := func(path string) evalReport {
		code, stdout, stderr := runCmd("evaluate", "--json", "--model", filepath.Join(out, checkpointName), "--data", path, "--horizon", "1,3")
		if code != 0 {
			t.Fatalf("evaluate %s: exit %d: %s", path, code, stderr)
		}
		var r evalReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, c := eval(data), eval(changed)
	for i := range a.Series {
		if *a.Series[i].Combination != *c.Series[i].Combination {
			t.Errorf("h=%d: combination %+v became %+v when only the test split changed", a.Series[i].Horizon, a.Series[i].Combination, c.Series[i].Combination)
		}
		if a.Series[i].Methods[modelMethod].MAE == c.Series[i].Methods[modelMethod].MAE {
			t.Errorf("h=%d: the test metrics did not change with the test values", a.Series[i].Horizon)
		}
	}
}

func TestEvaluateBadInput(t *testing.T) {
	dir := t.TempDir()
	data := writeSeries(t, dir, "s", 700)
	ref := filepath.Join("..", "..", "testdata", "fixtures", "model_l1", "model.safetensors")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no model", []string{"--data", data}, "--model"},
		{"no data", []string{"--model", ref}, "--data"},
		{"not a train checkpoint", []string{"--model", ref, "--data", data}, "written by perfpredict train"},
		{"missing model", []string{"--model", filepath.Join(dir, "nope.safetensors"), "--data", data}, "nope.safetensors"},
	}
	for _, c := range cases {
		code, _, stderr := runCmd(append([]string{"evaluate"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", c.name, code, stderr, c.want)
		}
	}
}

// cancelOnWrite cancels a context once the text written to it contains
// trigger (the progress line of a finished epoch).
type cancelOnWrite struct {
	buf     bytes.Buffer
	trigger string
	cancel  context.CancelFunc
}

func (c *cancelOnWrite) Write(p []byte) (int, error) {
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.trigger) {
		c.cancel()
	}
	return len(p), nil
}

// TestTrainInterruptKeepsBestCheckpoint cancels training after the first
// epoch (as Ctrl-C does): the best weights so far are saved and load.
func TestTrainInterruptKeepsBestCheckpoint(t *testing.T) {
	dir := t.TempDir()
	data := writeSeries(t, dir, "s", 700)
	out := filepath.Join(dir, "models")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errw := &cancelOnWrite{trigger: "epoch 1/50", cancel: cancel}
	var stdout bytes.Buffer
	code := runMain(ctx, &cmdEnv{stdout: &stdout, stderr: errw}, []string{"train", "--data", data, "--epochs", "50",
		"--patience", "50", "--hidden", "8", "--window", "24", "--out", out})
	if code != 1 || !strings.Contains(errw.buf.String(), "interrupted: best checkpoint so far saved to") {
		t.Fatalf("exit %d, stderr:\n%s", code, errw.buf.String())
	}
	if strings.Contains(errw.buf.String(), "epoch 50/50") {
		t.Error("training ran to the end despite the cancellation")
	}
	code, _, stderr := runCmd("evaluate", "--model", filepath.Join(out, checkpointName), "--data", data, "--horizon", "1")
	if code != 0 {
		t.Fatalf("the interrupted checkpoint does not evaluate: exit %d: %s", code, stderr)
	}
}

func TestTrainPlots(t *testing.T) {
	dir := t.TempDir()
	data := writeSeries(t, dir, "p", 700)
	plots := filepath.Join(dir, "plots")
	code, _, stderr := runCmd("train", "--data", data, "--horizon", "1,12", "--epochs", "2", "--hidden", "8",
		"--window", "24", "--out", filepath.Join(dir, "models"), "--plots", plots)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, name := range []string{"p_h1.png", "p_h12.png", "model_training.png", "model_2_training.png", "p_attention.png"} {
		b, err := os.ReadFile(filepath.Join(plots, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 1000 {
			t.Errorf("%s: not a PNG image (%d bytes)", name, len(b))
		}
	}
}

// TestTrainShortSeriesLeavesOutSeasonalNaive: 300 five-minute steps hold no
// full day before the test split, so seasonal naive has no figures (null)
// while the other methods are scored.
func TestTrainShortSeriesLeavesOutSeasonalNaive(t *testing.T) {
	dir := t.TempDir()
	data := writeSeries(t, dir, "day", 300)
	code, stdout, stderr := runCmd("train", "--json", "--baselines-only", "--data", data)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "seasonal_naive") {
		t.Errorf("no note about seasonal naive on stderr:\n%s", stderr)
	}
	var rep evalReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	for _, row := range rep.Series {
		if sn := row.Methods["seasonal_naive"]; !math.IsNaN(sn.MASE) {
			t.Errorf("h=%d: seasonal naive MASE %g, want null", row.Horizon, sn.MASE)
		}
		if p := row.Methods["persistence"]; !(p.MASE > 0) {
			t.Errorf("h=%d: persistence MASE %g", row.Horizon, p.MASE)
		}
	}
	if !strings.Contains(stdout, `"seasonal_naive": null`) {
		t.Errorf("summary should hold null for seasonal naive:\n%s", stdout)
	}
}

// TestTrainEnsembleRoundTrip trains an ensemble of two networks into a
// directory that holds a third network's checkpoint from an earlier run:
// that one is removed, evaluate loads the two from the first's path and
// reproduces train's rows exactly, and the first network alone forecasts
// differently from the average.
func TestTrainEnsembleRoundTrip(t *testing.T) {
	dir := t.TempDir()
	data := writeSeries(t, dir, "short", 700)
	out := filepath.Join(dir, "models")
	ckpt := filepath.Join(out, checkpointName)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := memberPath(ckpt, 2)
	if err := os.WriteFile(stale, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, trainOut, stderr := runCmd("train", "--json", "--data", data, "--horizon", "1,3", "--epochs", "2",
		"--hidden", "8", "--window", "24", "--ensemble", "2", "--seed", "7", "--out", out)
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "network 2 of 2 (seed 8)") || !strings.Contains(stderr, "model_2 epoch 2/2") {
		t.Errorf("no per-network progress on stderr:\n%s", stderr)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("%s from the earlier run is still there", stale)
	}
	if _, err := os.Stat(memberPath(ckpt, 1)); err != nil {
		t.Fatalf("second network: %v", err)
	}
	if memberPath(ckpt, 1) != filepath.Join(out, "model.2.safetensors") {
		t.Errorf("memberPath = %s", memberPath(ckpt, 1))
	}
	eval := func() (evalReport, string) {
		code, stdout, stderr := runCmd("evaluate", "--json", "--model", ckpt, "--data", data, "--horizon", "1,3")
		if code != 0 {
			t.Fatalf("evaluate: exit %d: %s", code, stderr)
		}
		var r evalReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		return r, stderr
	}
	var a evalReport
	if err := json.Unmarshal([]byte(trainOut), &a); err != nil {
		t.Fatal(err)
	}
	b, stderr := eval()
	if !strings.Contains(stderr, "average of 2 networks") {
		t.Errorf("evaluate does not say it averages two networks:\n%s", stderr)
	}
	if len(a.Series) != len(b.Series) {
		t.Fatalf("rows: train %d, evaluate %d", len(a.Series), len(b.Series))
	}
	for i, ra := range a.Series {
		rb := b.Series[i]
		if *ra.Combination != *rb.Combination {
			t.Errorf("h=%d: combination train %+v, evaluate %+v", ra.Horizon, ra.Combination, rb.Combination)
		}
		for name, ma := range ra.Methods {
			if mb := rb.Methods[name]; ma.MAE != mb.MAE || ma.MASE != mb.MASE || ma.N != mb.N {
				t.Errorf("h=%d %s: train %+v, evaluate %+v", ra.Horizon, name, ma, mb)
			}
		}
	}
	if err := os.Rename(memberPath(ckpt, 1), filepath.Join(dir, "moved.safetensors")); err != nil {
		t.Fatal(err)
	}
	one, _ := eval()
	if one.Series[0].Methods[lstmMethod].MAE == b.Series[0].Methods[lstmMethod].MAE {
		t.Errorf("the first network alone forecasts exactly as the average of two")
	}
}
