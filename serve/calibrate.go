package serve

import "math"

// Threshold is a service level objective on one metric: breached when the
// metric goes above Above or below Below (nil: no bound).
type Threshold struct {
	Metric string   `json:"metric"`
	Above  *float64 `json:"above,omitempty"`
	Below  *float64 `json:"below,omitempty"`
	// Origin says where the bound came from ("p99 of training", "user").
	Origin string `json:"origin,omitempty"`
}

func (t Threshold) breached(v float64) bool {
	return (t.Above != nil && v > *t.Above) || (t.Below != nil && v < *t.Below)
}

// ReliabilityBin is one bin of a reliability table: forecasts whose
// probability fell in [Lo, Hi), their mean probability and how often the
// event happened.
type ReliabilityBin struct {
	Lo       float64 `json:"lo"`
	Hi       float64 `json:"hi"`
	N        int     `json:"n"`
	MeanProb float64 `json:"mean_prob"`
	Observed float64 `json:"observed"`
}

// Reliability bins probabilities and outcomes into bins equal-width bins.
func Reliability(probs []float64, events []bool, bins int) []ReliabilityBin {
	out := make([]ReliabilityBin, bins)
	for i := range out {
		out[i].Lo, out[i].Hi = float64(i)/float64(bins), float64(i+1)/float64(bins)
	}
	for i, p := range probs {
		b := min(bins-1, max(0, int(p*float64(bins))))
		out[b].N++
		out[b].MeanProb += p
		if events[i] {
			out[b].Observed++
		}
	}
	for i := range out {
		if out[i].N > 0 {
			out[i].MeanProb /= float64(out[i].N)
			out[i].Observed /= float64(out[i].N)
		} else {
			out[i].MeanProb, out[i].Observed = math.NaN(), math.NaN()
		}
	}
	return out
}

// BrierScore is the mean squared difference between probabilities and
// outcomes (0 or 1).
func BrierScore(probs []float64, events []bool) float64 {
	sum := 0.0
	for i, p := range probs {
		o := 0.0
		if events[i] {
			o = 1
		}
		sum += (p - o) * (p - o)
	}
	return sum / float64(len(probs))
}

// ECE is the expected calibration error of a reliability table: the
// count-weighted mean gap between mean probability and observed frequency.
func ECE(bins []ReliabilityBin) float64 {
	sum, n := 0.0, 0
	for _, b := range bins {
		if b.N > 0 {
			sum += float64(b.N) * math.Abs(b.MeanProb-b.Observed)
			n += b.N
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}
