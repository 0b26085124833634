package baseline

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestSplitOf(t *testing.T) {
	for _, c := range []struct{ n, train, val int }{
		{10, 7, 1}, {100, 70, 15}, {4032, 2822, 604}, {18050, 12635, 2707}, {22695, 15886, 3404},
	} {
		sp := SplitOf(c.n)
		if sp.Train != c.train || sp.Val != c.val || sp.N != c.n {
			t.Errorf("SplitOf(%d) = %+v, want train %d val %d", c.n, sp, c.train, c.val)
		}
		if got := len(Targets(sp)); got != c.n-c.train-c.val {
			t.Errorf("n=%d: %d targets", c.n, got)
		}
	}
}

func TestFitScaler(t *testing.T) {
	s := FitScaler([]float64{1, 2, 3, 4})
	if s.Mean != 2.5 || math.Abs(s.SD-math.Sqrt(1.25)) > 1e-15 {
		t.Errorf("scaler %+v, want mean 2.5 sd sqrt(1.25) (ddof 0)", s)
	}
	if c := FitScaler([]float64{3, 3}); c.SD != 1 || c.Mean != 3 {
		t.Errorf("constant: %+v, want sd 1", c)
	}
	if v := s.Unscale(s.Scale(7)); math.Abs(v-7) > 1e-12 {
		t.Errorf("round trip %g", v)
	}
}

// TestScoreHandComputed: n = 10 gives train [0,7), val [7,8), test [8,10).
func TestScoreHandComputed(t *testing.T) {
	y := []float64{0, 2, 1, 3, 2, 4, 3, 5, 10, -20}
	// d = mean |diff| over train = (2+1+2+1+2+1)/6 = 1.5.
	if d := NaiveScale(y, SplitOf(len(y))); d != 1.5 {
		t.Fatalf("NaiveScale %g, want 1.5", d)
	}
	m, err := Score(y, []float64{10.4, -22})
	if err != nil {
		t.Fatal(err)
	}
	// e = (0.4, -2); |e|/|y| = (0.04, 0.1); both within 5%? 0.4 <= 0.5 yes, 2 <= 1 no.
	want := Metrics{
		MAE:       1.2,
		RMSE:      math.Sqrt((0.16 + 4) / 2),
		MAPE:      100 * (0.04 + 0.1) / 2,
		R2:        1 - (0.16+4)/(2*15*15),
		MASE:      1.2 / 1.5,
		Accuracy5: 0.5,
		N:         2,
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"MAE", m.MAE, want.MAE}, {"RMSE", m.RMSE, want.RMSE}, {"MAPE", m.MAPE, want.MAPE},
		{"R2", m.R2, want.R2}, {"MASE", m.MASE, want.MASE}, {"accuracy5", m.Accuracy5, want.Accuracy5},
	} {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("%s = %.15g, want %.15g", c.name, c.got, c.want)
		}
	}
	if m.N != 2 {
		t.Errorf("N = %d", m.N)
	}
	if _, err := Score(y, []float64{1}); err == nil {
		t.Error("one forecast for two targets: no error")
	}
}

func TestScoreUndefinedFigures(t *testing.T) {
	// Zero targets: MAPE undefined; constant test split: R2 undefined.
	y := []float64{0, 1, 0, 1, 0, 1, 0, 1, 0, 0}
	m, err := Score(y, []float64{0.5, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(m.MAPE) || !math.IsNaN(m.R2) {
		t.Errorf("MAPE %g R2 %g, want NaN", m.MAPE, m.R2)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"mape":null`) || !strings.Contains(string(b), `"r2":null`) {
		t.Errorf("JSON %s: want null for undefined figures", b)
	}
	var back Metrics
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.MAE != m.MAE || !math.IsNaN(back.R2) || back.N != m.N {
		t.Errorf("round trip %+v from %s", back, b)
	}
}

func TestGeoMean(t *testing.T) {
	if g := GeoMean([]float64{1, 4, 16}); math.Abs(g-4) > 1e-12 {
		t.Errorf("GeoMean(1,4,16) = %g", g)
	}
	for _, xs := range [][]float64{nil, {1, 0}, {1, -1}, {1, math.NaN()}, {math.Inf(1)}} {
		if g := GeoMean(xs); !math.IsNaN(g) {
			t.Errorf("GeoMean(%v) = %g, want NaN", xs, g)
		}
	}
}

func TestCheckSeries(t *testing.T) {
	good := syntheticSeries(200, 24, 1)
	if err := CheckSeries(good, 12); err != nil {
		t.Fatalf("good series: %v", err)
	}
	short := syntheticSeries(100, 24, 1)
	err := CheckSeries(short, 12)
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "too few") {
		t.Errorf("short series: %v", err)
	}
	if _, err := Evaluate(short, &Persistence{}, 12); !errors.Is(err, ErrBadInput) {
		t.Errorf("Evaluate on a short series: %v", err)
	}
	flat := Series{Name: "flat", Values: make([]float64, 300)}
	if err := CheckSeries(flat, 1); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "nothing to forecast") {
		t.Errorf("constant series: %v", err)
	}
	flatTrain := Series{Name: "ft", Values: make([]float64, 300)}
	flatTrain.Values[299] = 1
	if err := CheckSeries(flatTrain, 1); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "training split") {
		t.Errorf("constant training split: %v", err)
	}
}

// TestForecastsUseOnlyThePast changes the series after an origin and checks
// that no forecast from that origin or earlier moves.
func TestForecastsUseOnlyThePast(t *testing.T) {
	s := syntheticSeries(900, 48, 4)
	sp := SplitOf(s.Len())
	cut := sp.TestStart() + 50 // forecasts with origin < cut must not change
	alt := Series{Name: s.Name, Values: append([]float64(nil), s.Values...)}
	for i := cut; i < alt.Len(); i++ {
		alt.Values[i] += 100
	}
	for _, f := range Standard(48, 12) {
		a, err := Forecasts(s, f, 1, 12)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Forecasts(alt, f, 1, 12)
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range []int{1, 12} {
			for k, j := range Targets(sp) {
				if j-h < cut && a[i][k] != b[i][k] {
					t.Fatalf("%s h=%d: forecast of %d (origin %d) changed when data from %d on changed", f.Name(), h, j, j-h, cut)
				}
			}
		}
	}
}
