package serve

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
)

// TestExplainIsTheForecaster: Explain reads what Forecast reads and
// averages the networks as Forecast does, so its validation error and
// attention are those of Forecast on the same windows; its lags are
// labelled in the data's time.
func TestExplainIsTheForecaster(t *testing.T) {
	fc := tinyForecaster(t)
	d := synthData(700, []string{"cpu"}, 4)
	for i := range d[0].Times { // hourly data
		d[0].Times[i] = t0.Add(time.Duration(i) * time.Hour)
	}
	svc, err := NewService(fc, d, ServiceOptions{NoFallback: true})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ctx := context.Background()
	ex, err := svc.Explain(ctx, d, d, ExplainOptions{Repeats: 2, MaxWindows: 40})
	if err != nil {
		t.Fatal(err)
	}
	r := fc.Recipe()
	T, K := r.Window, r.Horizon
	// The same windows through Forecast.
	sp := baseline.SplitOf(d[0].Len())
	var origins []int
	for o := max(sp.Train-1, fc.Needs()-1); o+K < sp.Fit(); o++ {
		origins = append(origins, o)
	}
	origins = origins[len(origins)-40:]
	v := d[0].Values
	mae, att0 := 0.0, 0.0
	for _, o := range origins {
		f, err := fc.Forecast(ctx, v[:o+1])
		if err != nil {
			t.Fatal(err)
		}
		for h := 1; h <= K; h++ {
			mae += math.Abs((f.Points[h-1].Value-f.Last)/f.Unit - (v[o+h]-v[o])/f.Unit)
		}
		att0 += f.Attention[T-1]
	}
	mae /= float64(len(origins) * K)
	att0 /= float64(len(origins))
	if ex.Windows != 40 || ex.Networks != 2 || !near(ex.BaseMAE, mae, 1e-5) {
		t.Errorf("%d windows, %d networks, MAE %v; Forecast's MAE on them %v", ex.Windows, ex.Networks, ex.BaseMAE, mae)
	}
	var labels []string
	for _, a := range ex.Attention {
		labels = append(labels, a.Label)
	}
	if got := strings.Join(labels, ","); got != "now,1h ago,5h ago,7h ago" {
		t.Errorf("attention rows %s, want the window's steps in hours", got)
	}
	if a := ex.Attention[0]; a.Back != 0 || !near(a.Weight, att0, 1e-5) || !strings.Contains(a.Interpretation, "latest measurement") {
		t.Errorf("latest row %+v; Forecast's mean attention %v", a, att0)
	}
	if a := ex.Attention[2]; a.Ago != 5*time.Hour || !strings.Contains(a.Interpretation, "pattern over hours") {
		t.Errorf("5 steps back at one hour: %+v", a)
	}
	if len(ex.Importance) != 2 || len(ex.IG) != 2 {
		t.Fatalf("importance %v, IG %v", ex.Importance, ex.IG)
	}
	share := 0.0
	for _, im := range ex.Importance {
		if im.Feature != "rel_last@30" && im.Feature != "diff@30" {
			t.Errorf("input %q", im.Feature)
		}
		share += im.Share
	}
	if share != 0 && math.Abs(share-1) > 1e-9 {
		t.Errorf("shares sum to %v", share)
	}
	if math.IsNaN(ex.IGDelta) || ex.IGGap > 0.05*math.Abs(ex.IGDelta)+1e-6 {
		t.Errorf("integrated gradients: delta %v, completeness gap %v", ex.IGDelta, ex.IGGap)
	}
	t.Logf("MAE %.4f, importance %+v, IG %+v delta %.4g gap %.2g", ex.BaseMAE, ex.Importance, ex.IG, ex.IGDelta, ex.IGGap)
	// Too little validation data is bad input.
	if _, err := svc.Explain(ctx, sliceRows(d, 0, 60), d, ExplainOptions{}); err == nil || !strings.Contains(err.Error(), "validation windows") {
		t.Errorf("short history: %v", err)
	}
}

func TestAgoLabel(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "now", 5 * time.Minute: "5m ago", 150 * time.Minute: "2h30m ago", 26 * time.Hour: "1d2h ago", 30 * time.Second: "30s ago",
		1500 * time.Millisecond: "1s ago",
	} {
		if got := agoLabel(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}
