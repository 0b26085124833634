package integration

import (
	"context"
	"errors"
	"math"
	"time"
)

// ACPTarget is what the ACP tuner aims for: mean commit latency within
// LatencyBudgetMs and failed rounds within MaxFailedRoundShare; among
// settings meeting both, the lowest commit latency.
type ACPTarget struct {
	LatencyBudgetMs     float64
	MaxFailedRoundShare float64 // default 0.05
}

// ACPTelemetry is one interval as the ACP engine measured it.
type ACPTelemetry struct {
	Settings         ACPSettings
	ClusterSize      int     // replicas; responses are learned per size
	LoadRPS          float64 // commits requested per second (the condition)
	CommitMs         float64 // mean commit latency
	FailedRoundShare float64 // failed rounds over rounds
	ErrorRate        float64 // commits given up over commits
}

// ACPOutcome is a predicted response.
type ACPOutcome struct {
	CommitMs, FailedRoundShare, ErrorRate float64
}

// ACPPredictor predicts the ACP engine's response to settings.
type ACPPredictor interface {
	PredictACP(s ACPSettings, clusterSize int, loadRPS float64) (ACPOutcome, bool)
}

// ACPTuner tunes the consensus timeout and batch size through an ACPEngine.
type ACPTuner struct {
	core     *gridTuner
	target   ACPTarget
	lastLoad float64
}

// NewACPTuner starts from the engine's current settings.
func NewACPTuner(e ACPEngine, start ACPSettings, target ACPTarget, opts Options) (*ACPTuner, error) {
	if e == nil {
		return nil, errors.New("integration: ACP tuner: nil engine")
	}
	if err := ValidateACP(start); err != nil {
		return nil, err
	}
	if err := target.validate(); err != nil {
		return nil, err
	}
	if target.MaxFailedRoundShare == 0 {
		target.MaxFailedRoundShare = 0.05
	}
	eng := engine{names: [2]string{"SetTimeout", "SetBatchSize"},
		set: [2]func(float64) error{
			func(v float64) error { return e.SetTimeout(time.Duration(v * float64(time.Millisecond))) },
			func(v float64) error { return e.SetBatchSize(int(v)) }}}
	return &ACPTuner{core: newGridTuner("ACP", [2][]float64{acpTimeoutsMs, acpBatchSizes},
		[]string{"commit_ms", "failed_round_share", "error_rate"},
		[2]float64{start.TimeoutMs, float64(start.BatchSize)}, eng, opts), target: target}, nil
}

func (t ACPTarget) validate() error {
	if !(t.LatencyBudgetMs > 0) || math.IsInf(t.LatencyBudgetMs, 0) {
		return errors.New("integration: ACP target: latency budget must be positive and finite")
	}
	if math.IsNaN(t.MaxFailedRoundShare) || t.MaxFailedRoundShare < 0 || t.MaxFailedRoundShare > 1 {
		return errors.New("integration: ACP target: max failed-round share must be in [0,1]")
	}
	return nil
}

func acpObjective(t ACPTarget) objective {
	return func(m []float64) (float64, float64) {
		// A commit given up costs as much as waiting out the budget.
		return m[0] + m[2]*t.LatencyBudgetMs, math.Max(m[0]/t.LatencyBudgetMs-1, m[1]/t.MaxFailedRoundShare-1)
	}
}

// Observe records one interval of telemetry.
func (t *ACPTuner) Observe(tm ACPTelemetry) error {
	if tm.ClusterSize < 1 {
		return errors.New("integration: ACP telemetry: cluster size must be positive")
	}
	if err := t.core.observe([2]float64{tm.Settings.TimeoutMs, float64(tm.Settings.BatchSize)}, tm.LoadRPS, tm.ClusterSize,
		[]float64{tm.CommitMs, tm.FailedRoundShare, tm.ErrorRate}, acpObjective(t.target)); err != nil {
		return err
	}
	t.lastLoad = tm.LoadRPS
	return nil
}

// Decide rolls back or moves, applying through the engine.
func (t *ACPTuner) Decide(ctx context.Context) (Decision, error) {
	return t.core.decide(ctx, acpObjective(t.target))
}

// Expect gives the tuner a forecast for the intervals its next decision
// will run: Decide and PredictOptimalACPSettings plan on e (Load in
// commits/s, LatencyMs the commit latency expected with the settings in
// effect) until the next Observe.
func (t *ACPTuner) Expect(e Expectation) error {
	if err := e.validate("ACP"); err != nil {
		return err
	}
	t.core.expect(e.Load, e.LatencyMs)
	return nil
}

// Expectations is how many forecasts Expect has received.
func (t *ACPTuner) Expectations() int { return t.core.Expectations }

// Settings are the settings the tuner last applied (or observed).
func (t *ACPTuner) Settings() ACPSettings {
	v := t.core.values(t.core.cur)
	return ACPSettings{TimeoutMs: v[0], BatchSize: int(v[1])}
}

// Stats reports how many changes, rollbacks and setter failures happened.
func (t *ACPTuner) Stats() (changes, rollbacks, setterFailures int) {
	return t.core.Changes, t.core.Rollbacks, t.core.SetterFailures
}

// PredictACP implements ACPPredictor with the learned response.
func (t *ACPTuner) PredictACP(s ACPSettings, clusterSize int, loadRPS float64) (ACPOutcome, bool) {
	m, sup := t.core.predict(nearest(acpTimeoutsMs, s.TimeoutMs), nearest(acpBatchSizes, float64(s.BatchSize)), clusterSize, loadRPS)
	if sup < minSupport*0.5 {
		return ACPOutcome{}, false
	}
	return ACPOutcome{CommitMs: m[0], FailedRoundShare: m[1], ErrorRate: m[2]}, true
}

// PredictOptimalACPSettings is the DWCP v3 design's predict_optimal_acp_settings on
// the learned response, at the load expected (Expect) or else the load last
// observed.
// Settings measured too little near this load count at their pessimistic
// estimate (see Options.Optimism).
func (t *ACPTuner) PredictOptimalACPSettings(clusterSize int, latencyBudget float64) (ACPSettings, error) {
	target := ACPTarget{LatencyBudgetMs: latencyBudget, MaxFailedRoundShare: t.target.MaxFailedRoundShare}
	if err := target.validate(); err != nil {
		return ACPSettings{}, err
	}
	if clusterSize < 1 {
		return ACPSettings{}, errors.New("integration: cluster size must be positive")
	}
	load := t.lastLoad
	if t.core.plan != nil {
		load = t.core.plan.cond
	}
	i, _, err := t.core.best(clusterSize, load, acpObjective(target))
	if err != nil {
		return ACPSettings{}, err
	}
	v := t.core.values(i)
	return ACPSettings{TimeoutMs: v[0], BatchSize: int(v[1])}, nil
}

// PredictOptimalACPSettings returns the grid settings with the lowest
// predicted commit latency within the budget and a 5% failed-round share at
// loadRPS (the forecast load, to plan ahead).
func PredictOptimalACPSettings(p ACPPredictor, clusterSize int, loadRPS, latencyBudget float64) (ACPSettings, error) {
	target := ACPTarget{LatencyBudgetMs: latencyBudget, MaxFailedRoundShare: 0.05}
	if err := target.validate(); err != nil {
		return ACPSettings{}, err
	}
	if clusterSize < 1 {
		return ACPSettings{}, errors.New("integration: cluster size must be positive")
	}
	if math.IsNaN(loadRPS) || loadRPS < 0 || math.IsInf(loadRPS, 0) {
		return ACPSettings{}, errors.New("integration: load must be finite and non-negative")
	}
	obj := acpObjective(target)
	best, bestR, found := ACPSettings{}, math.Inf(1), false
	for _, to := range acpTimeoutsMs {
		for _, b := range acpBatchSizes {
			s := ACPSettings{TimeoutMs: to, BatchSize: int(b)}
			o, ok := p.PredictACP(s, clusterSize, loadRPS)
			if !ok {
				continue
			}
			if r := rank(obj([]float64{o.CommitMs, o.FailedRoundShare, o.ErrorRate})); r < bestR {
				best, bestR, found = s, r, true
			}
		}
	}
	if !found {
		return ACPSettings{}, ErrNoTelemetry
	}
	return best, nil
}
