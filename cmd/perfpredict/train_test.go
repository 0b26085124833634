package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
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
	code, stdout, stderr := runCmd("train", "--json", "--baselines-only", "--horizon", "1,12",
		"--data", filepath.Join(nabDir, "realAWSCloudwatch", "ec2_cpu_utilization_5f5533.csv"),
		"--data", filepath.Join(nabDir, "realKnownCause", "ec2_request_latency_system_failure.csv"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep forecast.Report
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
	noCol := write("nocol.csv", "timestamp\n2024-01-01 00:00:00\n")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no metric column", []string{"--data", noCol}, "need a timestamp column and at least one metric column"},
		{"named target missing", []string{"--data", short, "--target", "latency"}, `metric "latency" not found`},
		{"too short", []string{"--data", short}, "too few"},
		{"too short for the window", []string{"--data", write("mid.csv", rows(200, func(i int) string { return fmt.Sprint(i % 7) })), "--window", "140", "--scale-window", "24", "--horizon", "1"}, "too few for the recipe's 141-step history"},
		{"constant", []string{"--data", flat}, "nothing to forecast"},
		{"bad horizon", []string{"--horizon", "0"}, "--horizon"},
		{"bad inputs", []string{"--data", write("mid3.csv", rows(400, func(i int) string { return fmt.Sprint(i % 7) })), "--inputs", "level@3", "--horizon", "1"}, `input "level": unknown`},
		{"zero ensemble", []string{"--data", write("mid2.csv", rows(400, func(i int) string { return fmt.Sprint(i % 7) })), "--ensemble", "0", "--horizon", "1"}, "Ensemble 0"},
		{"missing file", []string{"--data", filepath.Join(dir, "nope.csv")}, "nope.csv"},
		{"tree weights without trees", []string{"--trees=false", "--tree-weights", "1"}, "--tree-weights needs --trees"},
		{"bad tree weight", []string{"--trees", "--tree-weights", "0.5,x"}, `"x" is not a number`},
		{"tree weight range", []string{"--data", write("mid4.csv", rows(400, func(i int) string { return fmt.Sprint(i % 7) })), "--trees", "--tree-weights", "2", "--horizon", "1"}, "Trees.Weights [2]: must be in [0, 1]"},
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

// tinyRecipe are train flags for a forecaster small enough for a test.
// tinyRecipe trains in a second: no switch trees (TestTrainEvaluateRoundTrip
// turns them on).
var tinyRecipe = []string{"--epochs", "2", "--hidden", "4", "--window", "24", "--scale-window", "24", "--switch-trees=false"}

func trainTiny(t *testing.T, out string, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := runCmd(append(append([]string{"train", "--out", out}, tinyRecipe...), args...)...)
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	return stdout, stderr
}

func decodeReport(t *testing.T, s string) forecast.Report {
	t.Helper()
	var r forecast.Report
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("not a JSON report: %v\n%s", err, s)
	}
	return r
}

// TestTrainEvaluateRoundTrip trains a forecaster briefly on two short
// series, then evaluates the saved artifact on one of them: every metric,
// the model's included, must be identical to train's rows for that series.
func TestTrainEvaluateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	data := writeSeries(t, dir, "short", 700)
	other := writeSeries(t, dir, "other", 800)
	art := filepath.Join(dir, "models", "forecaster.zip")
	trainOut, stderr := trainTiny(t, art, "--json", "--data", data, "--data", other, "--horizon", "1,3", "--switch-trees")
	for _, want := range []string{"model epoch 2/2", "model_2 epoch 2/2", "saved " + art, "network 2 of 2 (seed 2): 2 series", "depend on the last 25 observations",
		"switch trees: 2 models (horizons [1 3])"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	code, evalOut, stderr := runCmd("evaluate", "--json", "--model", art, "--data", data)
	if code != 0 {
		t.Fatalf("evaluate: exit %d: %s", code, stderr)
	}
	a, b := decodeReport(t, trainOut), decodeReport(t, evalOut)
	if len(a.Series) != 4 || len(b.Series) != 2 {
		t.Fatalf("rows: train %d, evaluate %d; want 4 (2 series, h=1, h=3) and 2", len(a.Series), len(b.Series))
	}
	for i, rb := range b.Series {
		ra := a.Series[i]
		if ra.Name != "short" || ra.Horizon != rb.Horizon {
			t.Fatalf("row %d: train %s h=%d, evaluate %s h=%d", i, ra.Name, ra.Horizon, rb.Name, rb.Horizon)
		}
		if _, ok := ra.Methods[forecast.ModelMethod]; !ok {
			t.Fatalf("train row %d has no model", i)
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

// TestTrainIgnoresTestSplit: nothing of the forecaster (weights, early
// stopping, calibration) depends on the test split, so rewriting every
// test value of the file gives the same artifact's forecasts while the
// test metrics change.
func TestTrainIgnoresTestSplit(t *testing.T) {
	dir := t.TempDir()
	data := writeSeries(t, dir, "s", 700)
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
	outA, outB := filepath.Join(dir, "a.zip"), filepath.Join(dir, "b.zip")
	ra, _ := trainTiny(t, outA, "--json", "--data", data, "--horizon", "1,3")
	rb, _ := trainTiny(t, outB, "--json", "--data", changed, "--horizon", "1,3")
	fa, err := forecast.Open(outA)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := forecast.Open(outB)
	if err != nil {
		t.Fatal(err)
	}
	s, err := baseline.LoadCSV(data, "")
	if err != nil {
		t.Fatal(err)
	}
	fit := baseline.SplitOf(s.Len()).Fit()
	pa, err := fa.Forecast(context.Background(), s.Values[:fit])
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := fb.Forecast(context.Background(), s.Values[:fit])
	for k := range pa.Points {
		if pa.Points[k] != pb.Points[k] {
			t.Fatalf("h=%d: %+v became %+v when only the test split changed", k+1, pa.Points[k], pb.Points[k])
		}
	}
	if decodeReport(t, ra).Series[0].Methods["model"].MAE == decodeReport(t, rb).Series[0].Methods["model"].MAE {
		t.Error("the test metrics did not change with the test values")
	}
}

func TestEvaluateBadInput(t *testing.T) {
	dir := t.TempDir()
	data := writeSeries(t, dir, "s", 700)
	ref := filepath.Join("..", "..", "testdata", "fixtures", "model_l1", "model.safetensors")
	art := filepath.Join(dir, "f.zip")
	trainTiny(t, art, "--data", data, "--horizon", "1,3", "--ensemble", "1")
	corrupt := filepath.Join(dir, "corrupt.zip")
	b, err := os.ReadFile(art)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(corrupt, b[:len(b)/2], 0o644)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no model", []string{"--data", data}, "--model"},
		{"no data", []string{"--model", art}, "--data"},
		{"a network checkpoint, not an artifact", []string{"--model", ref, "--data", data}, "not a forecaster artifact"},
		{"truncated artifact", []string{"--model", corrupt, "--data", data}, "corrupt.zip"},
		{"missing model", []string{"--model", filepath.Join(dir, "nope.zip"), "--data", data}, "nope.zip"},
		{"horizon beyond the forecaster", []string{"--model", art, "--data", data, "--horizon", "5"}, "at most 3 steps"},
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

// TestTrainInterruptKeepsBest cancels training after the first epoch (as
// Ctrl-C does): what was learnt is saved and evaluates.
func TestTrainInterruptKeepsBest(t *testing.T) {
	dir := t.TempDir()
	data := writeSeries(t, dir, "s", 700)
	art := filepath.Join(dir, "f.zip")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errw := &cancelOnWrite{trigger: "epoch 1/50", cancel: cancel}
	var stdout bytes.Buffer
	code := runMain(ctx, &cmdEnv{stdout: &stdout, stderr: errw}, []string{"train", "--data", data, "--epochs", "50",
		"--patience", "50", "--hidden", "4", "--window", "24", "--scale-window", "24", "--horizon", "1", "--out", art})
	if code != 1 || !regexp.MustCompile(`interrupted: the forecaster learnt so far \([12] network\(s\)\) saved to`).MatchString(errw.buf.String()) {
		t.Fatalf("exit %d, stderr:\n%s", code, errw.buf.String())
	}
	if strings.Contains(errw.buf.String(), "epoch 50/50") {
		t.Error("training ran to the end despite the cancellation")
	}
	code, _, stderr := runCmd("evaluate", "--model", art, "--data", data, "--horizon", "1")
	if code != 0 {
		t.Fatalf("the interrupted forecaster does not evaluate: exit %d: %s", code, stderr)
	}
}

func TestTrainPlotsAndForecasts(t *testing.T) {
	dir := t.TempDir()
	data := writeSeries(t, dir, "p", 700)
	plots := filepath.Join(dir, "plots")
	fcsv := filepath.Join(dir, "forecasts.csv")
	trainTiny(t, filepath.Join(dir, "f.zip"), "--data", data, "--horizon", "1,12", "--plots", plots, "--forecasts", fcsv)
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
	b, err := os.ReadFile(fcsv)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	// 105 test targets at each of two horizons, by the model and by the
	// switch.
	if lines[0] != "series,origin,horizon,forecast,actual,method" || len(lines) != 1+2*2*105 {
		t.Fatalf("%d lines, header %q", len(lines), lines[0])
	}
	// The first test target is row 595 (0-based), forecast at h=1 from row
	// 594, 49.5 hours after the first timestamp.
	if !strings.HasPrefix(lines[1], "p,2024-03-03 01:30:00,1,") || !strings.HasSuffix(lines[1], ",model") {
		t.Errorf("first forecast %q: want the model's from the origin before the first test target", lines[1])
	}
	if l := lines[len(lines)-1]; !strings.HasSuffix(l, ",switch") {
		t.Errorf("last forecast %q: want the switch's", l)
	}
}

// TestTrainShortSeriesLeavesOutSeasonalNaive: 300 five-minute steps hold no
// full day before the test split, so seasonal naive has no figures (null)
// while the other methods are scored.
func TestTrainShortSeriesLeavesOutSeasonalNaive(t *testing.T) {
	dir := t.TempDir()
	data := writeSeries(t, dir, "day", 300)
	code, stdout, stderr := runCmd("train", "--json", "--baselines-only", "--data", data, "--horizon", "1,12")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "seasonal_naive") {
		t.Errorf("no note about seasonal naive on stderr:\n%s", stderr)
	}
	rep := decodeReport(t, stdout)
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

// TestTrainMultiMetric: a file with several metric columns trains one
// forecaster over every column and prints the accuracy by metric.
func TestTrainMultiMetric(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("timestamp,latency_ms,cpu\n")
	t0 := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 700 {
		fmt.Fprintf(&b, "%s,%.3f,%.3f\n", t0.Add(time.Duration(i)*5*time.Minute).Format("2006-01-02 15:04:05"),
			20+5*math.Sin(float64(i)/30)+math.Sin(float64(i)*1.3), 0.5+0.2*math.Cos(float64(i)/50))
	}
	path := filepath.Join(dir, "tel.csv")
	os.WriteFile(path, []byte(b.String()), 0o644)
	stdout, stderr := trainTiny(t, filepath.Join(dir, "f.zip"), "--data", path, "--horizon", "1,3", "--ensemble", "1")
	for _, want := range []string{"tel:latency_ms  h=1", "tel:cpu  h=3", "accuracy by metric", "geometric mean of MASE over 2 series"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s\n%s", want, stdout, stderr)
		}
	}
}

func TestCrossval(t *testing.T) {
	dir := t.TempDir()
	var args []string
	for i, n := range []int{700, 750, 800} {
		args = append(args, "--data", writeSeries(t, dir, fmt.Sprint("s", i), n))
	}
	code, stdout, stderr := runCmd(append(append([]string{"crossval", "--json", "--horizon", "1,3", "--ensemble", "1"}, tinyRecipe...), args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rep := decodeReport(t, stdout)
	if rep.Summary.Series != 3 || len(rep.Series) != 6 || !strings.Contains(stderr, "fold 3 of 3: training on 2 series, holding out 1") {
		t.Fatalf("%d series, %d rows; stderr:\n%s", rep.Summary.Series, len(rep.Series), stderr)
	}
	if code, _, stderr := runCmd(append([]string{"crossval", "--folds", "4"}, args...)...); code != 2 || !strings.Contains(stderr, "4 folds for 3 series") {
		t.Errorf("4 folds of 3 series: exit %d, %s", code, stderr)
	}
}
