package forecast

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/internal/synth"
)

// tinyOptions is a recipe small enough to train in a test.
func tinyOptions() Options {
	o := DefaultOptions()
	o.Window, o.ScaleWindow, o.Horizon = 8, 16, 4
	o.Hidden, o.Head, o.Epochs, o.Ensemble = 4, []int{8}, 2, 2
	o.BatchSize, o.SwitchTrees = 32, nil
	return o
}

// synthSeries is a daily-seasonal series with noise at 5-minute cadence.
func synthSeries(name string, n int, seed uint64) baseline.Series {
	s := baseline.Series{Name: name, Times: make([]time.Time, n), Values: synth.Walk(n, seed)}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		s.Times[i] = t0.Add(time.Duration(i) * 5 * time.Minute)
	}
	return s
}

var (
	trainedOnce sync.Once
	trained     *Forecaster
	trainedErr  error
	trainSet    []baseline.Series
)

// tinyForecaster trains one tiny forecaster shared by the tests.
func tinyForecaster(t *testing.T) (*Forecaster, []baseline.Series) {
	t.Helper()
	trainedOnce.Do(func() {
		trainSet = []baseline.Series{synthSeries("a", 900, 1), synthSeries("b", 700, 2)}
		trained, trainedErr = Train(context.Background(), trainSet, tinyOptions())
	})
	if trainedErr != nil {
		t.Fatal(trainedErr)
	}
	return trained, trainSet
}

func TestUnitAndWindow(t *testing.T) {
	r := Recipe{Window: 3, ScaleWindow: 4, Horizon: 1, Inputs: []Input{{InputRelLast, 30}, {InputDiff, 1.5}}, TargetClip: 10}
	// Needs 5: only the last five values are read.
	y := []float64{1e9, 10, 12, 11, 15, 13}
	if got := r.Needs(); got != 5 {
		t.Fatalf("Needs = %d, want 5", got)
	}
	dst := make([]float32, 3*2)
	u := r.window(dst, y)
	// |12-10|+|11-12|+|15-11|+|13-15| = 9 over 4 changes.
	if u != 2.25 {
		t.Fatalf("unit = %v, want 2.25", u)
	}
	// Rows are the last Window values: 11, 15, 13.
	want := []float32{
		float32((11 - 13) / 2.25), float32((11 - 12) / 2.25),
		float32((15 - 13) / 2.25), 1.5, // diff 4/2.25 = 1.78 clipped to 1.5
		0, float32((13 - 15) / 2.25),
	}
	for i := range want {
		if math.Abs(float64(dst[i]-want[i])) > 1e-6 {
			t.Fatalf("window = %v, want %v", dst, want)
		}
	}
	// A constant stretch gets a small positive unit, not zero.
	if u := r.unit([]float64{5, 5, 5, 5, 5}); !(u > 0 && u < 1e-5) {
		t.Fatalf("constant unit = %v", u)
	}
}

func TestForecastNeedsOnlyRecentHistory(t *testing.T) {
	fc, ss := tinyForecaster(t)
	ctx := context.Background()
	y := ss[0].Values
	full, err := fc.Forecast(ctx, y)
	if err != nil {
		t.Fatal(err)
	}
	last, err := fc.Forecast(ctx, y[len(y)-fc.Needs():])
	if err != nil {
		t.Fatal(err)
	}
	for k := range full.Points {
		if full.Points[k] != last.Points[k] {
			t.Fatalf("h=%d: whole history %+v, last %d values %+v", k+1, full.Points[k], fc.Needs(), last.Points[k])
		}
	}
	_, err = fc.Forecast(ctx, y[len(y)-fc.Needs()+1:])
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "needs the last") {
		t.Fatalf("short history: err = %v", err)
	}
	bad := append([]float64(nil), y...)
	bad[len(bad)-3] = math.NaN()
	if _, err := fc.Forecast(ctx, bad); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("NaN history: err = %v", err)
	}
}

func TestForecastShape(t *testing.T) {
	fc, ss := tinyForecaster(t)
	f, err := fc.Forecast(context.Background(), ss[1].Values)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Points) != fc.Horizon() || len(f.Attention) != fc.Recipe().Window {
		t.Fatalf("%d points, %d attention weights", len(f.Points), len(f.Attention))
	}
	var sum float64
	for _, w := range f.Attention {
		sum += w
	}
	if math.Abs(sum-1) > 1e-4 {
		t.Fatalf("attention sums to %v", sum)
	}
	for k, p := range f.Points {
		if p.Horizon != k+1 || !(p.P10 <= p.Value && p.Value <= p.P90) || p.P50 != p.Value {
			t.Fatalf("point %d: %+v", k, p)
		}
		if p.P90-p.P10 <= 0 {
			t.Fatalf("h=%d: empty interval %+v", k+1, p)
		}
	}
}

// The intervals are calibrated on the validation windows, each series'
// windows weighted equally: served at width 1, the mean over the series of
// the share of their validation targets inside p10-p90 is 80% by
// construction; at IntervalWidth it is more, and each interval is the
// point plus the spread scale of the history times the calibrated offset.
func TestCalibrationCoverage(t *testing.T) {
	fc, ss := tinyForecaster(t)
	ctx := context.Background()
	c := fc.Calibration()
	if c.Scale != ScaleSpread {
		t.Fatalf("calibrated in scale %q, want %q", c.Scale, ScaleSpread)
	}
	unwidened := *fc
	unwidened.calib = c.clone()
	for k := range c.Q10 {
		unwidened.calib.Q10[k] /= IntervalWidth
		unwidened.calib.Q90[k] /= IntervalWidth
	}
	coverage := func(fc *Forecaster, h int) (mean float64) {
		for _, s := range ss {
			sp := baseline.SplitOf(s.Len())
			in, n := 0, 0
			for t0 := sp.Train - 1; t0+fc.Horizon() < sp.Fit(); t0++ {
				f, err := fc.Forecast(ctx, s.Values[:t0+1])
				if err != nil {
					t.Fatal(err)
				}
				p, y := f.Points[h-1], s.Values[t0+h]
				if y >= p.P10 && y <= p.P90 {
					in++
				}
				n++
				if fc == &unwidened {
					continue
				}
				sc := make([]float64, fc.Horizon())
				spreadScales(sc, s.Values[t0+1-fc.Needs():t0+1], f.Unit)
				if lo, hi := p.Value+sc[h-1]*c.Q10[h-1], p.Value+sc[h-1]*c.Q90[h-1]; rel(p.P10, math.Min(lo, p.Value)) > 1e-12 || rel(p.P90, math.Max(hi, p.Value)) > 1e-12 {
					t.Fatalf("h=%d: served %v..%v, want %v..%v", h, p.P10, p.P90, lo, hi)
				}
			}
			mean += float64(in) / float64(n) / float64(len(ss))
		}
		return mean
	}
	for _, h := range []int{1, fc.Horizon()} {
		plain, wide := coverage(&unwidened, h), coverage(fc, h)
		if math.Abs(plain-0.8) > 0.02 {
			t.Errorf("h=%d: at width 1, %.3f of the validation targets inside p10-p90 (mean over series), want 0.8", h, plain)
		}
		if wide <= plain || wide > 0.95 {
			t.Errorf("h=%d: at width %v, %.3f inside, want more than %.3f", h, IntervalWidth, wide, plain)
		}
	}
}

// weightedQuantile: equal weights read the sorted values at q n - 1/2,
// and a series' weight moves the quantile as repeating its values would.
func TestWeightedQuantile(t *testing.T) {
	ones := func(n int) []float64 {
		w := make([]float64, n)
		for i := range w {
			w[i] = 1
		}
		return w
	}
	vals := []float64{4, 1, 3, 2, 5} // sorted 1..5 at 0.1, 0.3, ..., 0.9
	for _, c := range []struct{ q, want float64 }{{0.1, 1}, {0.2, 1.5}, {0.5, 3}, {0.9, 5}, {0.05, 1}, {0.99, 5}} {
		if got := weightedQuantile(vals, ones(5), c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("q=%v: %v, want %v", c.q, got, c.want)
		}
	}
	// Two series: a long one of ten values 0 and a short one of two values
	// 10. Pooled, the 70% quantile is the long series' 0; weighted per
	// series (each series' weights sum to 10) it is the short one's 10.
	long, short := make([]float64, 10), []float64{10, 10}
	v := append(append([]float64(nil), long...), short...)
	if got := weightedQuantile(v, append(ones(10), 5, 5), 0.7); got != 10 {
		t.Errorf("per-series weights: 70%% quantile %v, want 10", got)
	}
	if got := weightedQuantile(v, ones(12), 0.7); got != 0 {
		t.Errorf("equal weights: 70%% quantile %v, want 0", got)
	}
}

// spreadScales on a hand-checked window.
func TestSpreadScales(t *testing.T) {
	recent := []float64{1, 3, 2, 6}
	dst := make([]float64, 4)
	spreadScales(dst, recent, 2)
	// distance from the last: (5 + 3 + 4) / 3 = 4.
	// h=1: (2 + 1 + 4) / 3; h=2: (1 + 3) / 2; h=3 and beyond: 5 / 1.
	want := []float64{(7.0/3 + 4) / 2, (2 + 4) / 2.0, (5 + 4) / 2.0, (5 + 4) / 2.0}
	for k := range dst {
		if math.Abs(dst[k]-want[k]) > 1e-12 {
			t.Errorf("h=%d: scale %v, want %v", k+1, dst[k], want[k])
		}
	}
	// A flat window falls back to 5% of the unit.
	spreadScales(dst, []float64{3, 3, 3, 3}, 2)
	if dst[0] != 0.1 {
		t.Errorf("flat window: scale %v, want 0.1", dst[0])
	}
}

// An artifact calibrated in the unit (written before the scale existed,
// version 1) loads and serves its intervals in the unit, as it did; one
// calibrated in the spread is version 3 and reopens to the same forecasts.
func TestCalibrationScaleArtifacts(t *testing.T) {
	fc, ss := tinyForecaster(t)
	ctx := context.Background()
	hist := ss[0].Values
	var buf bytes.Buffer
	if err := fc.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if v := manifestVersion(t, buf.Bytes()); v != 3 {
		t.Errorf("an artifact calibrated in the spread has version %d, want 3", v)
	}
	got, err := Decode(buf.Bytes(), "mem")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := fc.Forecast(ctx, hist)
	g, _ := got.Forecast(ctx, hist)
	for k := range want.Points {
		if g.Points[k] != want.Points[k] {
			t.Fatalf("h=%d: %+v before saving, %+v after", k+1, want.Points[k], g.Points[k])
		}
	}
	// The same networks with a calibration in the unit, as older builds
	// wrote it: no scale in the manifest, version 1.
	legacy := rewrite(t, buf.Bytes(), func(name string, b []byte) []byte {
		if name != manifestName {
			return b
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m["version"] = 1
		c := m["calibration"].(map[string]any)
		delete(c, "scale")
		c["q10"], c["q90"] = []float64{-1, -2, -3, -4}, []float64{1.5, 2.5, 3.5, 4.5}
		out, _ := json.Marshal(m)
		if strings.Contains(string(out), `"scale":`) {
			t.Fatalf("legacy manifest still names a scale: %s", out)
		}
		return out
	})
	old, err := Decode(legacy, "legacy.zip")
	if err != nil {
		t.Fatal(err)
	}
	if old.Calibration().Scale != "" {
		t.Fatalf("legacy calibration scale %q", old.Calibration().Scale)
	}
	f, err := old.Forecast(ctx, hist)
	if err != nil {
		t.Fatal(err)
	}
	for k, p := range f.Points {
		if p.Value != want.Points[k].Value || rel(p.P10, p.Value-float64(k+1)*f.Unit) > 1e-12 || rel(p.P90, p.Value+(float64(k)+1.5)*f.Unit) > 1e-12 {
			t.Errorf("h=%d: legacy artifact serves %+v (unit %v), want the point %v with offsets in units", k+1, p, f.Unit, want.Points[k].Value)
		}
	}
	var again bytes.Buffer
	if err := old.Encode(&again); err != nil {
		t.Fatal(err)
	}
	if v := manifestVersion(t, again.Bytes()); v != 1 {
		t.Errorf("a unit-calibrated artifact without trees is written as version %d, want 1 (older builds read it)", v)
	}
}

// What Evaluate scores is what Forecast serves, from a reopened artifact.
func TestEvaluateScoresWhatForecastServes(t *testing.T) {
	fc, ss := tinyForecaster(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "forecaster.zip")
	if err := fc.Save(path); err != nil {
		t.Fatal(err)
	}
	opened, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Evaluate(ctx, fc, ss, []int{1, 4}, EvalOptions{Forecasts: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Forecasts) == 0 {
		t.Fatal("no scored forecasts kept")
	}
	byName := map[string]baseline.Series{}
	for _, s := range ss {
		byName[s.Name] = s
	}
	for i := 0; i < len(rep.Forecasts); i += 37 {
		sf := rep.Forecasts[i]
		s := byName[sf.Series]
		f, err := opened.Forecast(ctx, s.Values[:sf.Origin+1])
		if err != nil {
			t.Fatal(err)
		}
		got := f.Points[sf.Horizon-1]
		if rel(got.Value, sf.Forecast) > 1e-6 || rel(got.P10, sf.P10) > 1e-6 || rel(got.P90, sf.P90) > 1e-6 {
			t.Fatalf("%s origin %d h=%d: served %+v, scored %+v", sf.Series, sf.Origin, sf.Horizon, got, sf)
		}
		if sf.Actual != s.Values[sf.Origin+sf.Horizon] || !sf.OriginTime.Equal(s.Times[sf.Origin]) {
			t.Fatalf("scored forecast %+v does not match the series", sf)
		}
	}
	// The model's MASE in the report is the MASE of the kept forecasts.
	for _, row := range rep.Series {
		var sum float64
		n := 0
		for _, sf := range rep.Forecasts {
			if sf.Series == row.Name && sf.Horizon == row.Horizon {
				sum += math.Abs(sf.Forecast - sf.Actual)
				n++
			}
		}
		s := byName[row.Name]
		mase := sum / float64(n) / baseline.NaiveScale(s.Values, baseline.SplitOf(s.Len()))
		if n != row.Targets || rel(mase, row.Methods[ModelMethod].MASE) > 1e-9 {
			t.Fatalf("%s h=%d: %d forecasts, MASE %v; report %d, %v", row.Name, row.Horizon, n, mase, row.Targets, row.Methods[ModelMethod].MASE)
		}
	}
	if _, ok := rep.Summary.GeoMeanMASE["4"]["persistence"]; !ok {
		t.Fatalf("summary lacks the baselines: %v", rep.Summary.GeoMeanMASE)
	}
}

func rel(a, b float64) float64 {
	return math.Abs(a-b) / math.Max(1e-12, math.Max(math.Abs(a), math.Abs(b)))
}

func TestArtifactRoundTrip(t *testing.T) {
	fc, ss := tinyForecaster(t)
	var buf bytes.Buffer
	if err := fc.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(buf.Bytes(), "mem")
	if err != nil {
		t.Fatal(err)
	}
	if got.Members() != fc.Members() || got.Needs() != fc.Needs() || got.Horizon() != fc.Horizon() {
		t.Fatalf("reopened: %d members, needs %d, horizon %d", got.Members(), got.Needs(), got.Horizon())
	}
	a, _ := fc.Forecast(context.Background(), ss[0].Values)
	b, _ := got.Forecast(context.Background(), ss[0].Values)
	for k := range a.Points {
		if a.Points[k] != b.Points[k] {
			t.Fatalf("h=%d: %+v before saving, %+v after", k+1, a.Points[k], b.Points[k])
		}
	}
	if got.Info().Series[1] != "b" || len(got.Info().Members) != 2 {
		t.Fatalf("info: %+v", got.Info())
	}
}

// rewrite copies the artifact's entries through edit (nil drops an entry).
func rewrite(t *testing.T, data []byte, edit func(name string, b []byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if b = edit(f.Name, b); b == nil {
			continue
		}
		w, _ := zw.Create(f.Name)
		w.Write(b)
	}
	zw.Close()
	return out.Bytes()
}

func TestArtifactErrors(t *testing.T) {
	fc, _ := tinyForecaster(t)
	var buf bytes.Buffer
	if err := fc.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	manifestEdit := func(f func(m map[string]any)) []byte {
		return rewrite(t, good, func(name string, b []byte) []byte {
			if name != manifestName {
				return b
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			f(m)
			out, _ := json.Marshal(m)
			return out
		})
	}
	// A flipped byte inside a stored member: zip's CRC catches it.
	corrupt := bytes.Clone(good)
	off := bytes.Index(corrupt, []byte("member-2.safetensors")) + 200
	corrupt[off] ^= 0xff
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"not a zip", []byte("hello"), "not a forecaster artifact"},
		{"missing member", rewrite(t, good, func(name string, b []byte) []byte {
			if name == "member-2.safetensors" {
				return nil
			}
			return b
		}), "member-2.safetensors: missing"},
		{"corrupt member", corrupt, "member-2.safetensors"},
		{"newer version", manifestEdit(func(m map[string]any) { m["version"] = ArtifactVersion + 1 }), fmt.Sprintf("format version %d", ArtifactVersion+1)},
		{"other format", manifestEdit(func(m map[string]any) { m["format"] = "x" }), `format "x"`},
		{"bad recipe", manifestEdit(func(m map[string]any) { m["recipe"].(map[string]any)["window"] = 0 }), "window 0"},
		{"short calibration", manifestEdit(func(m map[string]any) { m["calibration"].(map[string]any)["q10"] = []float64{0} }), "calibration"},
		{"unknown calibration scale", manifestEdit(func(m map[string]any) { m["calibration"].(map[string]any)["scale"] = "level" }), `calibration scale "level"`},
		{"bad member", rewrite(t, good, func(name string, b []byte) []byte {
			if name == "member-1.safetensors" {
				return []byte("garbage")
			}
			return b
		}), "member-1.safetensors"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.data, "f.zip")
			if err == nil || !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "f.zip") {
				t.Fatalf("err = %v, want one naming f.zip and %q", err, c.want)
			}
		})
	}
	if _, err := Open(filepath.Join(t.TempDir(), "none.zip")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	good := synthSeries("good", 600, 3)
	constant := baseline.Series{Name: "flat", Times: good.Times, Values: make([]float64, 600)}
	nan := baseline.Series{Name: "holes", Times: good.Times, Values: append([]float64(nil), good.Values...)}
	nan.Values[10] = math.NaN()
	short := good.Slice(0, 25)
	short.Name = "short"
	for _, c := range []struct {
		series []baseline.Series
		want   string
	}{
		{[]baseline.Series{good, constant}, "series flat: constant"},
		{[]baseline.Series{nan}, "series holes: step 11 is NaN"},
		{[]baseline.Series{short}, "series short: 25 steps"},
		{nil, "no series"},
	} {
		_, err := Train(ctx, c.series, tinyOptions())
		if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want %q", err, c.want)
		}
	}
	for field, edit := range map[string]func(*Options){
		"Ensemble":  func(o *Options) { o.Ensemble = 0 },
		"Hidden":    func(o *Options) { o.Hidden = 0 },
		"Head":      func(o *Options) { o.Head = nil },
		"BatchSize": func(o *Options) { o.BatchSize = 1 },
		"Dropout":   func(o *Options) { o.Dropout = 1 },
		"window":    func(o *Options) { o.Window = 0 },
	} {
		o := tinyOptions()
		edit(&o)
		if _, err := Train(ctx, []baseline.Series{good}, o); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err = %v", field, err)
		}
	}
}

// Zero values mean what they say: no dropout and no early stopping train.
func TestZeroOptionsMeanWhatTheySay(t *testing.T) {
	o := tinyOptions()
	o.Dropout, o.Patience, o.Ensemble, o.Epochs = 0, 0, 1, 3
	fc, err := Train(context.Background(), []baseline.Series{synthSeries("z", 600, 4)}, o)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := fc.Network(0).Config(); cfg.Dropout > 0 || cfg.Patience >= 0 {
		t.Fatalf("network config: dropout %v, patience %d", cfg.Dropout, cfg.Patience)
	}
	if h := fc.Histories()[0]; len(h.Epochs) != 3 || h.EarlyStopped {
		t.Fatalf("trained %d epochs (early stopped %v), want all 3", len(h.Epochs), h.EarlyStopped)
	}
}

// Every series is scored once, by the forecaster of its own fold.
func TestCrossValidate(t *testing.T) {
	ss := []baseline.Series{synthSeries("a", 700, 1), synthSeries("b", 700, 2), synthSeries("c", 700, 3)}
	o := tinyOptions()
	o.Ensemble, o.Epochs = 1, 1
	o.Logf = func(string, ...any) {}
	rep, err := CrossValidate(context.Background(), ss, []int{1, 4}, 3, o, EvalOptions{Forecasts: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Series) != 6 || rep.Summary.Series != 3 {
		t.Fatalf("%d rows over %d series", len(rep.Series), rep.Summary.Series)
	}
	seen := map[string]int{}
	for _, r := range rep.Series {
		seen[r.Name]++
		if _, ok := r.Methods[ModelMethod]; !ok {
			t.Fatalf("%s: no model row", r.Name)
		}
	}
	if seen["a"] != 2 || seen["b"] != 2 || seen["c"] != 2 {
		t.Fatalf("rows per series %v", seen)
	}
	// The interval and scenario sections hold every held-out series too.
	if len(rep.Intervals.Series) != 6 || rep.Intervals.Summary["4"][ModelMethod].Series != 3 || len(rep.Scenarios.Summary) == 0 {
		t.Fatalf("intervals %d rows, summary %+v; %d scenario summaries", len(rep.Intervals.Series),
			rep.Intervals.Summary["4"], len(rep.Scenarios.Summary))
	}
	if _, err := CrossValidate(context.Background(), ss, []int{1}, 4, o, EvalOptions{}); !errors.Is(err, ErrBadInput) {
		t.Fatalf("4 folds of 3 series: %v", err)
	}
}

// A cancelled training returns what it learnt, usable and calibrated.
func TestTrainInterruptedKeepsBest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := tinyOptions()
	o.Epochs, o.Patience, o.Sequential = 50, 0, true
	o.Progress = func(member int, p perfpredict.Progress) {
		if member == 1 && p.EpochDone {
			cancel()
		}
	}
	fc, err := Train(ctx, []baseline.Series{synthSeries("i", 600, 5)}, o)
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) || fc == nil {
		t.Fatalf("fc %v, err %v", fc, err)
	}
	if fc.Members() != 2 || fc.Histories()[1].BestEpoch != 1 || len(fc.Histories()[0].Epochs) != 50 {
		t.Fatalf("%d members, epochs %d and %d", fc.Members(), len(fc.Histories()[0].Epochs), fc.Histories()[1].BestEpoch)
	}
	if _, err := fc.Forecast(context.Background(), synthSeries("i", 600, 5).Values); err != nil {
		t.Fatal(err)
	}
}

// Networks trained at the same time give the same forecaster as networks
// trained one after another; cancelled part way, each keeps its best epoch.
func TestTrainConcurrentNetworks(t *testing.T) {
	ss := []baseline.Series{synthSeries("c", 700, 6)}
	ctx := context.Background()
	o := tinyOptions()
	o.Ensemble = 3
	seq := o
	seq.Sequential = true
	a, err := Train(ctx, ss, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(ctx, ss, seq)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range a.members {
		// Train keeps each network to one goroutine only while they train
		// side by side; the served networks use every core again.
		if m.Serial {
			t.Fatalf("network %d is still Serial after training", i+1)
		}
	}
	fa, _ := a.Forecast(ctx, ss[0].Values)
	fb, _ := b.Forecast(ctx, ss[0].Values)
	for k := range fa.Points {
		if fa.Points[k] != fb.Points[k] {
			t.Fatalf("h=%d: concurrent %+v, sequential %+v", k+1, fa.Points[k], fb.Points[k])
		}
	}
	for i, m := range a.Info().Members {
		if m.Seed != o.Seed+uint64(i) || m != b.Info().Members[i] {
			t.Fatalf("network %d: %+v and %+v", i+1, m, b.Info().Members[i])
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	o.Epochs, o.Patience = 50, 0
	var mu sync.Mutex
	o.Progress = func(member int, p perfpredict.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.EpochDone && p.Epoch == 2 {
			cancel()
		}
	}
	fc, err := Train(cctx, ss, o)
	if !errors.Is(err, ErrInterrupted) || fc == nil {
		t.Fatalf("fc %v, err %v", fc, err)
	}
	for i, h := range fc.Histories() {
		if h.BestEpoch < 1 || len(h.Epochs) >= 50 {
			t.Fatalf("network %d kept epoch %d of %d", i+1, h.BestEpoch, len(h.Epochs))
		}
	}
}

// The precision reaches the networks' configuration; a bad one is bad input.
func TestTrainPrecision(t *testing.T) {
	o := tinyOptions()
	o.Ensemble, o.Epochs, o.Precision = 1, 1, "tf32"
	fc, err := Train(context.Background(), []baseline.Series{synthSeries("p", 600, 8)}, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := fc.Network(0).Config().Precision; got != "tf32" {
		t.Fatalf("network precision %q", got)
	}
	o.Precision = "fp16"
	if _, err := Train(context.Background(), []baseline.Series{synthSeries("p", 600, 8)}, o); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "fp16") {
		t.Fatalf("fp16: %v", err)
	}
}

func TestRelMeanInput(t *testing.T) {
	r := Recipe{Window: 2, ScaleWindow: 2, Horizon: 1, Inputs: []Input{{InputRelMean, 30}}, TargetClip: 10}
	// Needs 3: values 4, 6, 8; unit 2; mean 6.
	dst := make([]float32, 2)
	if u := r.window(dst, []float64{100, 4, 6, 8}); u != 2 {
		t.Fatalf("unit %v", u)
	}
	if dst[0] != 0 || dst[1] != 1 {
		t.Fatalf("rel_mean = %v, want [0 1]", dst)
	}
}

// NoTestSplit trains on the first 85% and validates on the rest; by default
// the last 15% is never read.
func TestNoTestSplit(t *testing.T) {
	s := synthSeries("n", 600, 9)
	s.Values[590] = math.NaN() // in the test split
	o := tinyOptions()
	o.Ensemble, o.Epochs = 1, 1
	var lines []string
	o.Logf = func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }
	if _, err := Train(context.Background(), []baseline.Series{s}, o); err != nil {
		t.Fatalf("the default split reads the test split: %v", err)
	}
	// 600 steps: training ends at 420, validation at 510; needs 17, K 4.
	if want := fmt.Sprintf("%d training windows", 420-4-17+1); !strings.Contains(lines[0], want) {
		t.Fatalf("%q, want %s", lines[0], want)
	}
	o.NoTestSplit = true
	if _, err := Train(context.Background(), []baseline.Series{s}, o); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "step 591 is NaN") {
		t.Fatalf("NoTestSplit must read the last 15%%: %v", err)
	}
	s.Values[590] = s.Values[589]
	lines = nil
	if _, err := Train(context.Background(), []baseline.Series{s}, o); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d training windows", 510-4-17+1); !strings.Contains(lines[0], want) {
		t.Fatalf("%q, want %s", lines[0], want)
	}
	if tr, va := o.Split(600); tr != 510 || va != 600 {
		t.Fatalf("Split = %d, %d", tr, va)
	}
}

// A cancelled context stops Train while it builds windows, before any
// network trains.
func TestTrainCancelledBeforeTraining(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := tinyOptions()
	trained := false
	o.Progress = func(int, perfpredict.Progress) { trained = true }
	_, err := Train(ctx, []baseline.Series{synthSeries("x", 20000, 3)}, o)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "windows") || trained {
		t.Fatalf("err %v, trained %v", err, trained)
	}
}

// TestSeasonInput: the season input reads the values one season before the
// window's rows, Horizon steps on, relative to the last value; the other
// channels, the unit and Needs' core do not change with it.
func TestSeasonInput(t *testing.T) {
	plain := Recipe{Window: 3, ScaleWindow: 2, Horizon: 2, Inputs: []Input{{InputRelLast, 30}}, TargetClip: 10}
	r := plain
	r.Inputs = []Input{{InputRelLast, 30}, {InputSeason, 30}}
	r.Season = 5
	if err := r.check(); err != nil {
		t.Fatal(err)
	}
	// Core 4 observations, and the season input reaches 5-2 = 3 further.
	if plain.Needs() != 4 || r.Needs() != 7 {
		t.Fatalf("Needs: %d without the season input, %d with; want 4 and 7", plain.Needs(), r.Needs())
	}
	y := []float64{1000, 10, 20, 30, 40, 50, 52, 54, 58} // the first is never read
	// t = 8 (58), unit: mean |54-52|, |58-54| = 3. Rows at 6, 7, 8 read
	// seasons at 6-5+2 = 3, 4, 5: 30, 40, 50.
	dst := make([]float32, 6)
	if u := r.window(dst, y); u != 3 {
		t.Fatalf("unit %v, want 3", u)
	}
	want := []float32{-2, -28.0 / 3, -4.0 / 3, -6, 0, -8.0 / 3}
	for i := range want {
		if math.Abs(float64(dst[i]-want[i])) > 1e-6 {
			t.Fatalf("inputs %v, want %v", dst, want)
		}
	}
	// The rel_last channel is what the recipe without the season reads.
	alone := make([]float32, 3)
	plain.window(alone, y)
	for row := range 3 {
		if alone[row] != dst[2*row] {
			t.Fatalf("rel_last with the season input %v, without %v", dst, alone)
		}
	}
	r.Season = 2
	if err := r.check(); err == nil || !strings.Contains(err.Error(), "longer than the horizon") {
		t.Fatalf("season 2 with horizon 2: %v", err)
	}
}

// A forecaster with the season input saves its season, needs the longer
// history after reopening, and forecasts the same.
func TestSeasonInputRoundTrip(t *testing.T) {
	ss := []baseline.Series{synthSeries("s", 700, 11)}
	o := tinyOptions()
	o.Ensemble, o.Epochs = 1, 1
	o.Inputs = append(o.Inputs, Input{InputSeason, 30})
	o.Season = 24
	fc, err := Train(context.Background(), ss, o)
	if err != nil {
		t.Fatal(err)
	}
	// Core max(8, 16) + 1 = 17, and 24 - 4 = 20 steps further back.
	if fc.Needs() != 37 || fc.Recipe().Season != 24 {
		t.Fatalf("needs %d, season %d; want 37 and 24", fc.Needs(), fc.Recipe().Season)
	}
	var buf bytes.Buffer
	if err := fc.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(buf.Bytes(), "mem")
	if err != nil {
		t.Fatal(err)
	}
	if got.Needs() != 37 || got.Recipe().Season != 24 {
		t.Fatalf("reopened: needs %d, season %d", got.Needs(), got.Recipe().Season)
	}
	ctx := context.Background()
	a, _ := fc.Forecast(ctx, ss[0].Values)
	b, _ := got.Forecast(ctx, ss[0].Values)
	for k := range a.Points {
		if a.Points[k] != b.Points[k] {
			t.Fatalf("h=%d: %+v before saving, %+v after", k+1, a.Points[k], b.Points[k])
		}
	}
	if _, err := got.Forecast(ctx, ss[0].Values[:36]); !errors.Is(err, ErrBadInput) {
		t.Fatalf("36 observations for a forecaster that needs 37: %v", err)
	}
}

// ParseInputs reads what Input.String writes, joined by commas, and names
// the field it cannot read.
func TestParseInputs(t *testing.T) {
	want := []Input{{InputRelLast, 30}, {InputDiff, 2.5}, {InputSeason, 1e3}}
	var parts []string
	for _, in := range want {
		parts = append(parts, in.String())
	}
	got, err := ParseInputs(strings.Join(parts, ", "))
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("ParseInputs(%q) = %v, %v; want %v", strings.Join(parts, ", "), got, err, want)
	}
	for _, bad := range []string{"rel_last", "rel_last@", "rel_last@x", "rel_last@30,,diff@30"} {
		if _, err := ParseInputs(bad); err == nil || !strings.Contains(err.Error(), "is not NAME@CLIP") {
			t.Errorf("ParseInputs(%q): %v", bad, err)
		}
	}
}
