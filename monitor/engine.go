package monitor

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// AlertState is where a rule stands.
type AlertState string

const (
	Inactive AlertState = "inactive"
	// Pending: the condition holds but not yet for the rule's For.
	Pending  AlertState = "pending"
	Firing   AlertState = "firing"
	Resolved AlertState = "resolved"
)

// Alert is a rule's state change (or a repeat while it keeps firing).
type Alert struct {
	Rule  Rule       `json:"rule"`
	State AlertState `json:"state"`
	Value float64    `json:"value"`
	// Since is when the condition started to hold; At is this evaluation.
	Since time.Time `json:"since"`
	At    time.Time `json:"at"`
	// Repeat marks a reminder of an alert already firing (see Engine.Repeat).
	Repeat bool `json:"repeat,omitempty"`
}

func (a Alert) String() string {
	state := string(a.State)
	if a.Repeat {
		state += " (repeat)"
	}
	s := fmt.Sprintf("%s %s [%s] %s: %s, value %.4g", a.At.Format(time.RFC3339), a.Rule.Name, a.Rule.Severity, state, a.Rule.Condition, a.Value)
	if a.Rule.Action != "" && a.State == Firing {
		s += ", action " + a.Rule.Action
	}
	return s
}

type ruleState struct {
	state      AlertState
	since      time.Time
	lastAction time.Time
}

// Engine evaluates rules against metric values. A rule fires once its
// condition has held for its For duration; a missing metric (NaN) leaves the
// rule as it was. Firing alerts reach the callbacks; their actions reach the
// action handlers once when firing starts and again every Repeat while it
// lasts (so a retrain that did not help is asked for again). Safe for
// concurrent use; callbacks run on the evaluating goroutine, outside the lock.
type Engine struct {
	mu      sync.Mutex
	rules   []Rule
	states  []ruleState
	actions map[string][]func(Alert)
	onAlert []func(Alert)
	// Repeat is how often a still-firing alert's action is dispatched
	// again; 0 means only once per firing.
	Repeat time.Duration
}

// NewEngine makes an engine over rules, repeating actions every 4 hours.
func NewEngine(rules []Rule) *Engine {
	return &Engine{rules: append([]Rule(nil), rules...), states: make([]ruleState, len(rules)),
		actions: map[string][]func(Alert){}, Repeat: 4 * time.Hour}
}

// Rules returns the engine's rules.
func (e *Engine) Rules() []Rule { return append([]Rule(nil), e.rules...) }

// OnAction registers a handler for an action name (retrain_model, ...).
func (e *Engine) OnAction(action string, fn func(Alert)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.actions[action] = append(e.actions[action], fn)
}

// OnAlert registers a callback for every firing and resolved alert.
func (e *Engine) OnAlert(fn func(Alert)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onAlert = append(e.onAlert, fn)
}

// Evaluate checks every rule against values at time now and returns the
// alerts that started firing, repeated or resolved.
func (e *Engine) Evaluate(now time.Time, values map[string]float64) []Alert {
	e.mu.Lock()
	var out []Alert
	var acts []Alert
	for i := range e.rules {
		r, st := &e.rules[i], &e.states[i]
		v, ok := values[r.Metric]
		if !ok || math.IsNaN(v) {
			continue
		}
		if r.Holds(v) {
			if st.state == Inactive || st.state == Resolved || st.state == "" {
				st.state, st.since = Pending, now
			}
			if st.state == Pending && now.Sub(st.since) >= r.For {
				st.state = Firing
				st.lastAction = now
				a := Alert{Rule: *r, State: Firing, Value: v, Since: st.since, At: now}
				out = append(out, a)
				acts = append(acts, a)
			} else if st.state == Firing && e.Repeat > 0 && now.Sub(st.lastAction) >= e.Repeat {
				st.lastAction = now
				a := Alert{Rule: *r, State: Firing, Value: v, Since: st.since, At: now, Repeat: true}
				out = append(out, a)
				acts = append(acts, a)
			}
		} else if st.state == Firing {
			out = append(out, Alert{Rule: *r, State: Resolved, Value: v, Since: st.since, At: now})
			st.state = Resolved
		} else {
			st.state = Inactive
		}
	}
	onAlert := append([]alertFunc(nil), e.onAlert...)
	handlers := make([][]func(Alert), len(acts))
	for i, a := range acts {
		handlers[i] = append([]alertFunc(nil), e.actions[a.Rule.Action]...)
	}
	e.mu.Unlock()
	for _, a := range out {
		for _, fn := range onAlert {
			fn(a)
		}
	}
	for i, a := range acts {
		for _, fn := range handlers[i] {
			fn(a)
		}
	}
	return out
}

// Firing lists the alerts firing now.
func (e *Engine) Firing() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Alert
	for i, st := range e.states {
		if st.state == Firing {
			out = append(out, Alert{Rule: e.rules[i], State: Firing, Since: st.since})
		}
	}
	return out
}

// MetricValues names the figures rules can use (see KnownMetrics). drift may
// be nil.
func MetricValues(h HealthSnapshot, drift *DriftReport) map[string]float64 {
	m := map[string]float64{
		"accuracy":               h.Accuracy5,
		"accuracy5":              h.Accuracy5,
		"mape":                   h.MAPE,
		"mae":                    h.MAE,
		"inference_time":         h.LatencyP99,
		"inference_time_p50":     h.LatencyP50,
		"inference_time_p99":     h.LatencyP99,
		"inference_time_mean":    h.LatencyMean,
		"predictions_per_second": h.PredictionsPerSecond,
		"fallback_rate":          h.FallbackRate,
	}
	if drift != nil {
		m["feature_distribution_divergence"] = drift.MaxJS
		m["js_divergence"] = drift.JS
		m["psi"] = drift.MaxPSI
		m["psi_mean"] = drift.PSI
	}
	return m
}

// Monitor bundles health, drift and rules for one served model. Health and
// Engine are set by New and not meant to be replaced; the drift detector is
// replaced while the monitor is read (a new version brings a new reference),
// so it sits behind Drift and SetDrift, safe for concurrent use.
type Monitor struct {
	Health *Health
	Engine *Engine
	drift  atomic.Pointer[Drift] // nil until a reference is set
	// MinErrors is how many scored forecasts the window needs before
	// accuracy figures are handed to the rules (fewer are too noisy);
	// MinDriftRows the same for drift.
	MinErrors, MinDriftRows int
}

// New makes a Monitor; ref may be nil (no drift figures until SetReference).
func New(cfg HealthConfig, ref *Reference, driftWindow int, rules []Rule) *Monitor {
	m := &Monitor{Health: NewHealth(cfg), Engine: NewEngine(rules), MinErrors: 30, MinDriftRows: 30}
	if ref != nil {
		m.SetDrift(NewDrift(ref, driftWindow))
	}
	return m
}

// Drift is the drift detector, nil until one is set.
func (m *Monitor) Drift() *Drift { return m.drift.Load() }

// SetDrift replaces the drift detector (nil: no drift figures); a scrape or
// Values running at the same time sees either the old or the new one.
func (m *Monitor) SetDrift(d *Drift) { m.drift.Store(d) }

// Values returns the metric values at now, NaN where there is too little data.
func (m *Monitor) Values(now time.Time) (map[string]float64, HealthSnapshot, *DriftReport) {
	h := m.Health.Snapshot(now)
	if h.Errors < m.MinErrors {
		h.Accuracy5, h.MAPE, h.MAE = math.NaN(), math.NaN(), math.NaN()
	}
	var dr *DriftReport
	if d := m.Drift(); d != nil {
		r := d.Report()
		if r.N >= m.MinDriftRows {
			dr = &r
		}
	}
	return MetricValues(h, dr), h, dr
}

// Evaluate computes the values at now and runs the rules on them.
func (m *Monitor) Evaluate(now time.Time) []Alert {
	v, _, _ := m.Values(now)
	return m.Engine.Evaluate(now, v)
}

type alertFunc = func(Alert)
