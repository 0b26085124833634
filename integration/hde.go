package integration

import (
	"context"
	"errors"
	"math"
)

// HDETarget is what the HDE tuner aims for: transfer latency (compression,
// queueing and sending) within LatencyMs and CPU busy share within MaxCPU;
// among settings meeting both, the fewest bytes on the wire.
type HDETarget struct {
	LatencyMs float64
	MaxCPU    float64 // default 0.8
}

// HDETelemetry is one interval as the HDE engine measured it.
type HDETelemetry struct {
	Settings      HDESettings
	ThroughputRPS float64 // the condition the response is learned against
	LatencyMs     float64 // mean transfer latency
	WireBytes     float64 // bytes on the wire per request, retransmissions included
	CPUUtil       float64 // compression cores' busy share
}

// HDEOutcome is a predicted response.
type HDEOutcome struct {
	LatencyMs, WireBytes, CPUUtil float64
}

// HDEPredictor predicts the HDE engine's response to settings at a
// throughput; HDETuner learns one from telemetry, and the performance model
// may provide another.
type HDEPredictor interface {
	PredictHDE(s HDESettings, throughputRPS float64) (HDEOutcome, bool)
}

// HDETuner tunes compression level and chunk size through an HDEEngine.
type HDETuner struct {
	core   *gridTuner
	target HDETarget
}

// NewHDETuner starts from the engine's current settings (start).
func NewHDETuner(e HDEEngine, start HDESettings, target HDETarget, opts Options) (*HDETuner, error) {
	if e == nil {
		return nil, errors.New("integration: HDE tuner: nil engine")
	}
	if err := ValidateHDE(start); err != nil {
		return nil, err
	}
	if err := target.validate(); err != nil {
		return nil, err
	}
	if target.MaxCPU == 0 {
		target.MaxCPU = 0.8
	}
	eng := engine{names: [2]string{"SetCompressionLevel", "SetChunkSize"},
		set: [2]func(float64) error{
			func(v float64) error { return e.SetCompressionLevel(int(v)) },
			func(v float64) error { return e.SetChunkSize(int(v)) }}}
	return &HDETuner{core: newGridTuner("HDE", [2][]float64{hdeLevels, hdeChunkSizes},
		[]string{"latency_ms", "wire_bytes", "cpu_utilization"},
		[2]float64{float64(start.CompressionLevel), float64(start.ChunkSize)}, eng, opts), target: target}, nil
}

func (t HDETarget) validate() error {
	if !(t.LatencyMs > 0) || math.IsInf(t.LatencyMs, 0) {
		return errors.New("integration: HDE target: latency must be positive and finite")
	}
	if math.IsNaN(t.MaxCPU) || t.MaxCPU < 0 || t.MaxCPU > 1 {
		return errors.New("integration: HDE target: max CPU must be a share in [0,1]")
	}
	return nil
}

func (t *HDETuner) objective(target HDETarget) objective {
	return func(m []float64) (float64, float64) {
		return m[1], math.Max(m[0]/target.LatencyMs-1, m[2]/target.MaxCPU-1)
	}
}

// Observe records one interval of telemetry.
func (t *HDETuner) Observe(tm HDETelemetry) error {
	return t.core.observe([2]float64{float64(tm.Settings.CompressionLevel), float64(tm.Settings.ChunkSize)},
		tm.ThroughputRPS, 0, []float64{tm.LatencyMs, tm.WireBytes, tm.CPUUtil}, t.objective(t.target))
}

// Decide rolls back a change that made things worse, or moves towards better
// settings, applying them through the engine.
func (t *HDETuner) Decide(ctx context.Context) (Decision, error) {
	return t.core.decide(ctx, t.objective(t.target))
}

// Expect gives the tuner a forecast for the intervals its next decision
// will run: Decide plans on e (Load in req/s, LatencyMs the transfer
// latency expected with the settings in effect) until the next Observe.
func (t *HDETuner) Expect(e Expectation) error {
	if err := e.validate("HDE"); err != nil {
		return err
	}
	t.core.expect(e.Load, e.LatencyMs)
	return nil
}

// Settings are the settings the tuner last applied (or observed).
func (t *HDETuner) Settings() HDESettings {
	v := t.core.values(t.core.cur)
	return HDESettings{CompressionLevel: int(v[0]), ChunkSize: int(v[1])}
}

// Stats reports how many changes, rollbacks and setter failures happened.
func (t *HDETuner) Stats() (changes, rollbacks, setterFailures int) {
	return t.core.Changes, t.core.Rollbacks, t.core.SetterFailures
}

// Expectations is how many forecasts Expect has received.
func (t *HDETuner) Expectations() int { return t.core.Expectations }

// PredictHDE implements HDEPredictor with the learned response.
func (t *HDETuner) PredictHDE(s HDESettings, throughputRPS float64) (HDEOutcome, bool) {
	m, sup := t.core.predict(nearest(hdeLevels, float64(s.CompressionLevel)), nearest(hdeChunkSizes, float64(s.ChunkSize)), 0, throughputRPS)
	if sup < minSupport*0.5 {
		return HDEOutcome{}, false
	}
	return HDEOutcome{LatencyMs: m[0], WireBytes: m[1], CPUUtil: m[2]}, true
}

// PredictOptimalHDESettings is the DWCP v3 design's predict_optimal_hde_settings on the
// tuner's learned response; pass the forecast throughput (Peak over the
// lookahead) to plan ahead, the current one to plan reactively.
// Settings measured too little near this throughput count at their
// pessimistic estimate (see Options.Optimism).
func (t *HDETuner) PredictOptimalHDESettings(currentThroughput, latencyTarget float64) (HDESettings, error) {
	target := HDETarget{LatencyMs: latencyTarget, MaxCPU: t.target.MaxCPU}
	if err := target.validate(); err != nil {
		return HDESettings{}, err
	}
	if math.IsNaN(currentThroughput) || currentThroughput < 0 || math.IsInf(currentThroughput, 0) {
		return HDESettings{}, errors.New("integration: current throughput must be finite and non-negative")
	}
	i, _, err := t.core.best(0, currentThroughput, t.objective(target))
	if err != nil {
		return HDESettings{}, err
	}
	v := t.core.values(i)
	return HDESettings{CompressionLevel: int(v[0]), ChunkSize: int(v[1])}, nil
}

// PredictOptimalHDESettings returns the settings on the grid that meet the
// latency target (and 80% CPU) with the fewest bytes on the wire at the
// throughput given, or the lowest-latency ones when none does, as predicted
// by p. Planning ahead means passing the forecast throughput (Peak of its
// p50 or p90 over the lookahead) rather than the current one.
func PredictOptimalHDESettings(p HDEPredictor, currentThroughput, latencyTarget float64) (HDESettings, error) {
	target := HDETarget{LatencyMs: latencyTarget, MaxCPU: 0.8}
	if err := target.validate(); err != nil {
		return HDESettings{}, err
	}
	if math.IsNaN(currentThroughput) || currentThroughput < 0 || math.IsInf(currentThroughput, 0) {
		return HDESettings{}, errors.New("integration: current throughput must be finite and non-negative")
	}
	best, bestR, found := HDESettings{}, math.Inf(1), false
	for _, l := range hdeLevels {
		for _, c := range hdeChunkSizes {
			s := HDESettings{CompressionLevel: int(l), ChunkSize: int(c)}
			o, ok := p.PredictHDE(s, currentThroughput)
			if !ok {
				continue
			}
			r := rank(o.WireBytes, math.Max(o.LatencyMs/target.LatencyMs-1, o.CPUUtil/target.MaxCPU-1))
			if r < bestR {
				best, bestR, found = s, r, true
			}
		}
	}
	if !found {
		return HDESettings{}, ErrNoTelemetry
	}
	return best, nil
}
