package baseline

import (
	"math"
	"testing"

	"github.com/novacron/perfpredict/internal/nabdata"
)

// evalNAB returns MASE per method name at h = 1 and h = 12 for one series.
func evalNAB(t *testing.T, name string) map[string][2]float64 {
	t.Helper()
	s, err := LoadCSV("../testdata/nab/"+name, "")
	if err != nil {
		t.Fatal(err)
	}
	m, err := SeasonFromCadence(s.Times)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]float64{}
	for _, f := range Standard(m, 12) {
		ms, err := EvaluateHorizons(s, f, 1, 12)
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name()] = [2]float64{ms[0].MASE, ms[1].MASE}
	}
	return out
}

func within(got, want, rel float64) bool { return math.Abs(got-want) <= rel*want }

// TestReproduceTwoSeries pins the per-series MASE of every baseline on two
// NAB series within 2%. Reference values: ridge AR from PROTOCOL.md's table;
// persistence, seasonal naive and ma12 recomputed independently with numpy;
// Holt-Winters from statsmodels' ExponentialSmoothing(trend=None,
// seasonal="add", seasonal_periods=288).fit() on the train-standardised
// train+validation split, run forward through the test split.
func TestReproduceTwoSeries(t *testing.T) {
	want := map[string]map[string][2]float64{
		"realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv": {
			"persistence": {0.2532, 0.1537}, "seasonal_naive": {0.1515, 0.1515}, "ma12": {0.1607, 0.1580},
			"holt_winters": {0.177, 0.176}, "ridge_ar": {0.138, 0.141},
		},
		"realKnownCause/ec2_request_latency_system_failure.csv": {
			"persistence": {1.1639, 0.8228}, "seasonal_naive": {0.9763, 0.9763}, "ma12": {0.7051, 0.6938},
			"holt_winters": {0.746, 0.740}, "ridge_ar": {0.643, 0.682},
		},
	}
	for name, methods := range want {
		got := evalNAB(t, name)
		for method, w := range methods {
			g := got[method]
			for i, h := range []int{1, 12} {
				if !within(g[i], w[i], 0.02) {
					t.Errorf("%s %s h=%d: MASE %.4f, reference %.4f (2%%)", name, method, h, g[i], w[i])
				}
			}
		}
	}
}

// TestReproduceIssueFigures reproduces the geometric mean of MASE over the 13
// visible series quoted in issue 5 within 2%.
func TestReproduceIssueFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("13 series; -short")
	}
	want := map[string][2]float64{
		"persistence": {0.79, 0.78}, "ma12": {0.73, 0.80}, "holt_winters": {0.85, 1.06},
		"seasonal_naive": {0.95, 0.95}, "ridge_ar": {0.67, 0.88},
	}
	mase := map[string][2][]float64{}
	// The 13 series the project's baseline figures are computed on.
	for _, name := range nabdata.Series() {
		for method, v := range evalNAB(t, name) {
			m := mase[method]
			m[0], m[1] = append(m[0], v[0]), append(m[1], v[1])
			mase[method] = m
		}
	}
	for _, method := range []string{"persistence", "seasonal_naive", "ma12", "holt_winters", "ridge_ar"} {
		w := want[method]
		for i, h := range []int{1, 12} {
			g := GeoMean(mase[method][i])
			t.Logf("%-15s h=%-2d geometric mean MASE %.4f (issue %.2f)", method, h, g, w[i])
			if !within(g, w[i], 0.02) {
				t.Errorf("%s h=%d: %.4f, issue %.2f (2%%)", method, h, g, w[i])
			}
		}
	}
}
