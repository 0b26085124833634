package forecast

import (
	"math"
	"math/rand/v2"
)

// augmentShifts adds round(frac * tr.n) training windows, each a copy of a
// random training window whose values from a random step of its input
// window on (targets included) are moved by a random level shift of 3 to
// 30 units, either sign. Real training splits hold few breaks, so without
// them the networks learn that a jump in the window reverts, as a spike
// does; a shift persists. The windows are drawn from seed, so training
// stays a function of the options.
func augmentShifts(tr *windows, r Recipe, values [][]float64, frac float64, seed uint64) {
	k := int(math.Round(frac * float64(tr.n)))
	if k == 0 {
		return
	}
	rng := rand.New(rand.NewPCG(seed, 0x73686674)) // "shft"
	needs, K := r.Needs(), r.Horizon
	seg := make([]float64, needs+K)
	n := tr.n
	for range k {
		i := rng.IntN(n)
		y, t, u := values[tr.series[i]], tr.origin[i], tr.unit[i]
		copy(seg, y[t-needs+1:t+K+1])
		at := needs - r.Window + rng.IntN(r.Window) // a step the network reads
		size := u * math.Exp(math.Log(3)+rng.Float64()*math.Log(10))
		if rng.IntN(2) == 0 {
			size = -size
		}
		for j := at; j < len(seg); j++ {
			seg[j] += size
		}
		tr.add(r, seg, tr.series[i], needs-1)
	}
}
