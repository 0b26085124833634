package integration

import (
	"fmt"
	"math"
)

// Expectation is what a forecaster expects over a tuner's lookahead, for
// the tuner to plan its next settings on instead of the interval it just
// measured. Load is in the units of the tuner's telemetry condition (HDE:
// ThroughputRPS, ACP: LoadRPS, PBA: Traffic.OfferedMbps); LatencyMs is the
// latency forecast with the settings in effect (HDE: LatencyMs, ACP:
// CommitMs, PBA: NetworkMs), 0 when there is none.
//
// Reduce a forecast to an Expectation with Peak over the lookahead: the
// settings chosen now run until the next decision and should suit the
// highest load expected before it can change them again (MaxStep limits how
// fast it can). A tuner given no Expectation plans reactively, on the
// interval just measured.
type Expectation struct {
	Load      float64
	LatencyMs float64
}

func (e Expectation) validate(component string) error {
	if math.IsNaN(e.Load) || math.IsInf(e.Load, 0) || e.Load < 0 {
		return fmt.Errorf("integration: %s expectation: load must be finite and non-negative, got %v", component, e.Load)
	}
	if math.IsNaN(e.LatencyMs) || math.IsInf(e.LatencyMs, 0) || e.LatencyMs < 0 {
		return fmt.Errorf("integration: %s expectation: latency must be finite and non-negative, got %v", component, e.LatencyMs)
	}
	return nil
}

// Peak is the largest of the first lookahead values of a forecast (index i
// is i+1 steps ahead; all of them when lookahead exceeds its length or is
// not positive), clamped at 0: the value a tuner plans on.
func Peak(forecast []float64, lookahead int) float64 {
	if lookahead <= 0 || lookahead > len(forecast) {
		lookahead = len(forecast)
	}
	p := 0.0
	for _, v := range forecast[:lookahead] {
		if v > p {
			p = v
		}
	}
	return p
}

// plan is an expectation in the grid tuner's terms: the condition to plan
// for and the latency (metric 0) expected with the settings in effect (0:
// none).
type plan struct {
	cond, latency float64
}

// expect sets the plan for decisions until the next observation.
func (t *gridTuner) expect(cond, latency float64) {
	t.plan = &plan{cond: cond, latency: latency}
	t.Expectations++
}

// latencyFactor is how much worse than the learned response the forecaster
// expects the latency to be: the forecast over the current setting's
// prediction at the planned condition (over its latest measurement when it
// was not measured near that condition) plus one standard deviation of a
// single interval's latency, at least 1. A forecast latency rise that the
// load forecast does not explain is a change of conditions (congestion, a
// slow replica) that every setting would suffer, so each setting's
// predicted latency is scaled by it and only settings with that much margin
// stay within the target. A forecast within the usual interval-to-interval
// spread says nothing new (without that allowance, the noise of the
// forecast alone would make every plan pessimistic), and one below the
// learned response changes nothing.
func (t *gridTuner) latencyFactor(p *plan) float64 {
	if p == nil || !(p.latency > 0) {
		return 1
	}
	ref := t.lastM[0]
	if m, sup := t.predict(t.cur[0], t.cur[1], t.lastCtx, p.cond); sup >= minSupport {
		ref = m[0]
	}
	if t.pooled != nil {
		ref += math.Sqrt(t.pooled[0])
	}
	if !(ref > 0) {
		return 1
	}
	return math.Max(1, p.latency/ref)
}
