package integration

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// PBATarget is what the PBA tuner aims for: packet loss from over-estimated
// bandwidth within MaxLossRate; among settings meeting it, the least network
// delay per request.
type PBATarget struct {
	MaxLossRate float64 // default 0.02
}

// TrafficPattern summarises what PBA must pace: the offered wire traffic,
// the bandwidth PBA measures as available, and burstiness (peak over mean,
// >= 1). The response is learned against the peak utilisation
// OfferedMbps*Burstiness/AvailableMbps: pacing that suits a quiet link hurts
// a loaded one, and a regime of scarce bandwidth looks like more load.
type TrafficPattern struct {
	OfferedMbps   float64
	AvailableMbps float64
	Burstiness    float64
}

func (p TrafficPattern) condition() (float64, error) {
	if math.IsNaN(p.OfferedMbps) || p.OfferedMbps < 0 || math.IsInf(p.OfferedMbps, 0) {
		return 0, errors.New("integration: traffic pattern: offered Mbps must be finite and non-negative")
	}
	if !(p.AvailableMbps > 0) || math.IsInf(p.AvailableMbps, 0) {
		return 0, errors.New("integration: traffic pattern: available Mbps must be positive and finite")
	}
	if math.IsNaN(p.Burstiness) || math.IsInf(p.Burstiness, 0) || p.Burstiness < 0 {
		return 0, errors.New("integration: traffic pattern: burstiness must be finite and non-negative")
	}
	return p.OfferedMbps * math.Max(1, p.Burstiness) / p.AvailableMbps, nil
}

// PBATelemetry is one interval as the PBA engine measured it.
type PBATelemetry struct {
	Settings      PBASettings
	Traffic       TrafficPattern
	NetworkMs     float64 // network stage time per request
	RetransmitMs  float64 // of which waiting for lost packets to be resent (0 if unknown)
	LossRate      float64 // retransmitted over sent bytes
	EstimateError float64 // mean |estimate - available| / available
	// Measurements are the bandwidth measurements (Mbps) PBA took during
	// the interval, oldest first. With them the tuner replays every setting
	// on the same history (see pba_replay.go); without them it learns
	// setting by setting.
	Measurements []float64
	// EpochMs is PBA's measurement and pacing period (0 if unknown). The
	// replay's fluid backlog is counted in epochs; with the period known,
	// its waiting time is a unit conversion rather than a fitted guess.
	EpochMs float64
	// What PBA knows of what it sends, for the replay's delay model (each 0
	// if unknown): messages per second (with OfferedMbps, the bits of one
	// message, so its transmission time at any rate), the timeout after
	// which a lost packet's message is sent again, and the packets a message
	// is sent in (one lost packet delays the whole message).
	MessageRate         float64
	RetransmitTimeoutMs float64
	PacketsPerMessage   float64
	// MaxRetransmits is how many times PBA resends a message before giving
	// up on it (0 if unknown: the replay assumes no limit).
	MaxRetransmits int
}

// PBAOutcome is a predicted response.
type PBAOutcome struct {
	NetworkMs, LossRate, EstimateError float64
}

// PBAPredictor predicts the PBA engine's response to settings for a traffic
// pattern.
type PBAPredictor interface {
	PredictPBA(s PBASettings, p TrafficPattern) (PBAOutcome, bool)
}

// PBATuner tunes the prediction window and confidence through a PBAEngine.
type PBATuner struct {
	core   *gridTuner
	target PBATarget
	replay pbaReplay
	last   TrafficPattern // of the latest telemetry, for Expect
}

// NewPBATuner starts from the engine's current settings.
func NewPBATuner(e PBAEngine, start PBASettings, target PBATarget, opts Options) (*PBATuner, error) {
	if e == nil {
		return nil, errors.New("integration: PBA tuner: nil engine")
	}
	if err := ValidatePBA(start); err != nil {
		return nil, err
	}
	if math.IsNaN(target.MaxLossRate) || target.MaxLossRate < 0 || target.MaxLossRate > 1 {
		return nil, errors.New("integration: PBA target: max loss rate must be a share in [0,1]")
	}
	if target.MaxLossRate == 0 {
		target.MaxLossRate = 0.02
	}
	eng := engine{names: [2]string{"SetPredictionWindow", "SetConfidenceThreshold"},
		set: [2]func(float64) error{
			func(v float64) error { return e.SetPredictionWindow(int(v)) },
			func(v float64) error { return e.SetConfidenceThreshold(v) }}}
	t := &PBATuner{core: newGridTuner("PBA", [2][]float64{pbaWindows, pbaConfidence},
		[]string{"network_ms", "loss_rate", "estimate_error"},
		[2]float64{float64(start.WindowSize), start.Confidence}, eng, opts), target: target}
	t.core.direct = &directModel{
		target: func() ([2]int, float64, bool) {
			return t.replay.best(t.target.MaxLossRate, -replayOptimism)
		},
		score:  func(i [2]int) (float64, bool) { return t.replay.scoreOf(i, t.target.MaxLossRate) },
		before: func(i [2]int) (float64, bool) { return t.replay.lastScore(i, t.target.MaxLossRate) },
	}
	return t, nil
}

func pbaObjective(target PBATarget) objective {
	return func(m []float64) (float64, float64) { return m[0], m[1]/target.MaxLossRate - 1 }
}

// Observe records one interval of telemetry.
func (t *PBATuner) Observe(tm PBATelemetry) error {
	cond, err := tm.Traffic.condition()
	if err != nil {
		return err
	}
	// Everything is checked before anything is recorded, so bad telemetry
	// leaves the tuner as it was.
	if math.IsNaN(tm.RetransmitMs) || tm.RetransmitMs < 0 || tm.RetransmitMs > tm.NetworkMs {
		return fmt.Errorf("integration: PBA telemetry: retransmit_ms must be within [0, network_ms], got %v", tm.RetransmitMs)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"epoch_ms", tm.EpochMs}, {"message_rate", tm.MessageRate}, {"retransmit_timeout_ms", tm.RetransmitTimeoutMs}, {"packets_per_message", tm.PacketsPerMessage}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return fmt.Errorf("integration: PBA telemetry: %s must be finite and non-negative, got %v", f.name, f.v)
		}
	}
	if tm.MaxRetransmits < 0 {
		return fmt.Errorf("integration: PBA telemetry: max_retransmits must be non-negative, got %d", tm.MaxRetransmits)
	}
	for i, m := range tm.Measurements {
		if !(m > 0) || math.IsInf(m, 0) {
			return fmt.Errorf("integration: PBA telemetry: measurement %d must be positive and finite, got %v (a gap?)", i, m)
		}
	}
	settings := [2]float64{float64(tm.Settings.WindowSize), tm.Settings.Confidence}
	if err := t.core.observe(settings, cond, 0,
		[]float64{tm.NetworkMs, tm.LossRate, tm.EstimateError}, pbaObjective(t.target)); err != nil {
		return err
	}
	t.last = tm.Traffic
	actual := [2]int{nearest(pbaWindows, settings[0]), nearest(pbaConfidence, settings[1])}
	if tm.EpochMs > 0 {
		t.replay.epochMs = tm.EpochMs
	}
	phys := physics{msgRate: tm.MessageRate, rtoMs: tm.RetransmitTimeoutMs, packets: tm.PacketsPerMessage, epochMs: tm.EpochMs, maxRounds: tm.MaxRetransmits}
	return t.replay.add(tm.Measurements, tm.Traffic.OfferedMbps*math.Max(1, tm.Traffic.Burstiness), actual, tm.NetworkMs, tm.RetransmitMs, tm.LossRate, phys)
}

// Decide rolls back or moves, applying through the engine.
func (t *PBATuner) Decide(ctx context.Context) (Decision, error) {
	return t.core.decide(ctx, pbaObjective(t.target))
}

// Expect gives the tuner a forecast for the intervals its next decision
// will run (Load: the offered Mbps, LatencyMs: the network delay expected
// with the settings in effect), planned on with the available bandwidth and
// burstiness last observed, until the next Observe. Only the learner that
// works setting by setting uses it: with measurement replay the tuner picks
// the setting best over the remembered bandwidth history, which a load
// forecast does not change (what limits PBA there is the cross traffic's
// regime changes, which the load does not foretell).
func (t *PBATuner) Expect(e Expectation) error {
	if err := e.validate("PBA"); err != nil {
		return err
	}
	if !t.core.observed {
		return ErrNoTelemetry // no bandwidth to relate the load to yet
	}
	p := t.last
	p.OfferedMbps = e.Load
	cond, err := p.condition()
	if err != nil {
		return err
	}
	t.core.expect(cond, e.LatencyMs)
	return nil
}

// Expectations is how many forecasts Expect has received.
func (t *PBATuner) Expectations() int { return t.core.Expectations }

// Settings are the settings the tuner last applied (or observed).
func (t *PBATuner) Settings() PBASettings {
	v := t.core.values(t.core.cur)
	return PBASettings{WindowSize: int(v[0]), Confidence: v[1]}
}

// Stats reports how many changes, rollbacks and setter failures happened.
func (t *PBATuner) Stats() (changes, rollbacks, setterFailures int) {
	return t.core.Changes, t.core.Rollbacks, t.core.SetterFailures
}

// PredictPBA implements PBAPredictor with the learned response.
func (t *PBATuner) PredictPBA(s PBASettings, p TrafficPattern) (PBAOutcome, bool) {
	cond, err := p.condition()
	if err != nil {
		return PBAOutcome{}, false
	}
	m, sup := t.core.predict(nearest(pbaWindows, float64(s.WindowSize)), nearest(pbaConfidence, s.Confidence), 0, cond)
	if sup < minSupport*0.5 {
		return PBAOutcome{}, false
	}
	return PBAOutcome{NetworkMs: m[0], LossRate: m[1], EstimateError: m[2]}, true
}

// PredictOptimalPBASettings is the DWCP v3 design's predict_optimal_pba_settings on the
// tuner's learned response and target.
// Settings measured too little near this pattern count at their pessimistic
// estimate (see Options.Optimism).
//
// With measurement replay (telemetry carrying Measurements) the answer is the
// best static setting over the remembered history, which already spans the
// patterns seen, each setting counted at its pessimistic estimate (see
// pba_replay.go): one the tuner measured beats one the model merely expects
// to be as good.
func (t *PBATuner) PredictOptimalPBASettings(p TrafficPattern) (PBASettings, error) {
	cond, err := p.condition()
	if err != nil {
		return PBASettings{}, err
	}
	if i, _, ok := t.replay.best(t.target.MaxLossRate, replayPessimism); ok {
		v := t.core.values(i)
		return PBASettings{WindowSize: int(v[0]), Confidence: v[1]}, nil
	}
	i, _, err := t.core.best(0, cond, pbaObjective(t.target))
	if err != nil {
		return PBASettings{}, err
	}
	v := t.core.values(i)
	return PBASettings{WindowSize: int(v[0]), Confidence: v[1]}, nil
}

// PredictOptimalPBASettings returns the grid settings with the least network
// delay whose loss stays within maxLoss for the pattern, as predicted by pr.
func PredictOptimalPBASettings(pr PBAPredictor, p TrafficPattern, maxLoss float64) (PBASettings, error) {
	if _, err := p.condition(); err != nil {
		return PBASettings{}, err
	}
	if !(maxLoss > 0 && maxLoss <= 1) {
		return PBASettings{}, errors.New("integration: max loss rate must be in (0,1]")
	}
	obj := pbaObjective(PBATarget{MaxLossRate: maxLoss})
	best, bestR, found := PBASettings{}, math.Inf(1), false
	for _, w := range pbaWindows {
		for _, c := range pbaConfidence {
			s := PBASettings{WindowSize: int(w), Confidence: c}
			o, ok := pr.PredictPBA(s, p)
			if !ok {
				continue
			}
			if r := rank(obj([]float64{o.NetworkMs, o.LossRate, o.EstimateError})); r < bestR {
				best, bestR, found = s, r, true
			}
		}
	}
	if !found {
		return PBASettings{}, ErrNoTelemetry
	}
	return best, nil
}
