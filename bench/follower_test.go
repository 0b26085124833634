package bench

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/serve"
)

// BenchmarkFollower is the cost of serving a followed series with its
// switch (serve.Follower, what `perfpredict serve` answers {"series": NAME}
// with) on the default forecaster: "fit" is a series' first request
// (NewFollower on the HTTP service's default history, 8064 points, 28
// days at 5 minutes, then the first answer: the ridge AR's fit and the
// network's forecasts at every origin of the history, which warm the
// switch's errors); "next" is each later
// request, one new point fed and the 30 horizons answered. The anchor,
// in the same run, is "forecast": one Forecaster.Forecast of the same
// window, what the model row costs per request. Each reports ms/op.
func BenchmarkFollower(b *testing.B) {
	fc := defaultForecaster(b)
	if in := fc.Info().SwitchTrees; in != nil {
		b.Logf("switch trees per horizon model: %v", in.Trees)
	}
	ctx := context.Background()
	const week = serve.FollowerHistory // httpapi.Options.SwitchHistory's default
	rng := rand.New(rand.NewPCG(3, 4))
	n := week + 100_000
	s := baseline.Series{Name: "cpu"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for j := range n {
		s.Times = append(s.Times, t0.Add(time.Duration(j)*5*time.Minute))
		s.Values = append(s.Values, 50+10*math.Sin(2*math.Pi*float64(j)/288)+rng.NormFloat64())
	}
	report := func(b *testing.B) {
		b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/op")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("forecast", func(b *testing.B) {
		w := s.Values[week-fc.Needs() : week]
		for b.Loop() {
			if _, err := fc.Forecast(ctx, w); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("fit", func(b *testing.B) {
		w := s.Slice(week-100, week)
		for b.Loop() {
			f, err := serve.NewFollower(fc, s.Slice(0, week))
			if err != nil {
				b.Fatal(err)
			}
			if _, ok := f.Points(w.Times, w.Values, 5*time.Minute, fc.Horizon()); !ok {
				b.Fatal("no answer")
			}
		}
		report(b)
	})
	b.Run("next", func(b *testing.B) {
		f, err := serve.NewFollower(fc, s.Slice(0, week))
		if err != nil {
			b.Fatal(err)
		}
		// The first answer (the catch-up over the history) is "fit"'s.
		w := s.Slice(week-100, week)
		if _, ok := f.Points(w.Times, w.Values, 5*time.Minute, fc.Horizon()); !ok {
			b.Fatal("no answer")
		}
		to := week
		b.ReportAllocs()
		for b.Loop() {
			if to == n {
				b.Fatal("more iterations than the series has points; bound -benchtime")
			}
			to++
			w := s.Slice(to-100, to)
			if _, ok := f.Points(w.Times, w.Values, 5*time.Minute, fc.Horizon()); !ok {
				b.Fatal("no answer")
			}
		}
		report(b)
	})
}
