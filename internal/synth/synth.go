// Package synth makes synthetic metric series: Walk, the simple seasonal
// walk that tests across the module share, so that they exercise the same
// data; and Server (Spec, Generate, Random), server-like series with
// seasonality, trends and known events (level shifts, ramps, spikes,
// bursts, flat stretches) for pretraining experiments and the
// forecaster's level-shift check.
package synth

import (
	"math"
	"math/rand/v2"
)

// Walk is n steps of a daily-seasonal random walk at 5-minute cadence: a
// level drifting by N(0, 0.2) a step, a daily sine of amplitude 10 and
// N(0, 1) noise. The same seed gives the same values.
func Walk(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	v := make([]float64, n)
	level := 50 + 10*rng.Float64()
	for i := range v {
		level += 0.2 * rng.NormFloat64()
		v[i] = level + 10*math.Sin(2*math.Pi*float64(i)/288) + rng.NormFloat64()
	}
	return v
}
