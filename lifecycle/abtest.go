package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sync"

	"github.com/novacron/perfpredict/forecast"
)

// ABMode says how a candidate meets live traffic.
type ABMode string

const (
	// Shadow: every request is answered by the control (Active) version;
	// the candidate predicts too and its answers are only recorded. The
	// comparison is paired, request by request.
	Shadow ABMode = "shadow"
	// Split: a share of requests, chosen by a stable hash of their key, is
	// answered by the candidate.
	Split ABMode = "split"
)

// Arm is the side of a test that answered.
type Arm string

const (
	Control    Arm = "control"
	Challenger Arm = "candidate"
)

// ABConfig configures an ABTest. Zero fields take the defaults in brackets.
type ABConfig struct {
	Mode  ABMode
	Share float64 // Split: share of keys sent to the candidate [0.1]
	// MinSamples scored predictions per arm before any decision [200];
	// MaxSamples per arm after which a test without a significant
	// difference ends keeping the control [5 x MinSamples].
	MinSamples, MaxSamples int
	// Z is the critical value of the error comparison [1.96: 5%, two-sided].
	Z float64
	// MaxPending bounds predictions waiting for their actual [10000];
	// the oldest are dropped.
	MaxPending int
	// Registry, if set, receives the outcome as a note on the candidate
	// version (and the promotion, see Conclude).
	Registry *Registry
	Clock    Clock
}

// ABTest compares a candidate version's forecaster with the control's on
// live traffic.
// Safe for concurrent use.
type ABTest struct {
	cfg                ABConfig
	control, candidate *Served

	mu       sync.Mutex
	nextID   uint64
	pending  map[uint64]abPending
	order    []uint64
	arms     [2]armAcc
	pairN    int
	pairSum  float64
	pairSum2 float64
	dropped  int
}

type abPending struct {
	arm       Arm
	value     float64
	shadow    float64
	hasShadow bool
}

type armAcc struct {
	metricAcc
	sumAbs2 float64
}

// ErrUnknownPrediction is returned by Observe for an ID that is not pending
// (already scored, dropped, or never issued).
var ErrUnknownPrediction = errors.New("lifecycle: unknown or expired prediction id")

// NewABTest starts a test of candidate against control (both loaded).
func NewABTest(cfg ABConfig, control, candidate *Served) (*ABTest, error) {
	if control == nil || candidate == nil {
		return nil, errors.New("lifecycle: A/B test needs a control and a candidate")
	}
	if control.Version.Model != candidate.Version.Model {
		return nil, fmt.Errorf("lifecycle: A/B test across models %q and %q", control.Version.Model, candidate.Version.Model)
	}
	switch cfg.Mode {
	case Shadow, Split:
	case "":
		cfg.Mode = Shadow
	default:
		return nil, fmt.Errorf("lifecycle: A/B mode %q (want shadow or split)", cfg.Mode)
	}
	if cfg.Share == 0 {
		cfg.Share = 0.1
	}
	if cfg.Share < 0 || cfg.Share > 1 {
		return nil, fmt.Errorf("lifecycle: A/B share %v outside [0, 1]", cfg.Share)
	}
	if cfg.MinSamples <= 0 {
		cfg.MinSamples = 200
	}
	if cfg.MaxSamples < cfg.MinSamples {
		cfg.MaxSamples = 5 * cfg.MinSamples
	}
	if cfg.Z <= 0 {
		cfg.Z = 1.96
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 10000
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	return &ABTest{cfg: cfg, control: control, candidate: candidate, pending: map[uint64]abPending{}}, nil
}

// Assign says which arm answers requests with this key in split mode: the
// same key always gets the same arm for the same pair of versions.
func (t *ABTest) Assign(key string) Arm {
	if t.cfg.Mode == Shadow {
		return Control
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s", t.candidate.Version.Model, t.control.Version.Version, t.candidate.Version.Version, key)
	// FNV's high bits hardly change when only the key's last bytes do; the
	// murmur3 finaliser spreads them.
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	u := float64(x>>11) / (1 << 53)
	if u < t.cfg.Share {
		return Challenger
	}
	return Control
}

// ABPrediction is an answer and the ID to report its actual with.
type ABPrediction struct {
	ID      uint64
	Arm     Arm
	Version string
	Value   float64
}

// Predict answers a request: the forecast horizon steps after the last
// value of history (oldest first; only what the forecasters need is read).
// In shadow mode a failing candidate does not affect the answer.
func (t *ABTest) Predict(ctx context.Context, key string, history []float64, horizon int) (ABPrediction, error) {
	return t.predict(key, func(v *Served) (float64, error) { return forecastAt(ctx, v.Forecaster, history, horizon) })
}

// predict is Predict with each version's answer from forecast (a
// pipeline's shadow test asks its switches).
func (t *ABTest) predict(key string, forecast func(*Served) (float64, error)) (ABPrediction, error) {
	arm := t.Assign(key)
	srv := t.control
	if arm == Challenger {
		srv = t.candidate
	}
	v, err := forecast(srv)
	if err != nil {
		return ABPrediction{}, err
	}
	p := abPending{arm: arm, value: v}
	if t.cfg.Mode == Shadow {
		p.hasShadow = true
		if p.shadow, err = forecast(t.candidate); err != nil {
			p.shadow = math.NaN() // a failure is a miss
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nextID++
	id := t.nextID
	t.pending[id] = p
	t.order = append(t.order, id)
	for len(t.pending) > t.cfg.MaxPending && len(t.order) > 0 {
		old := t.order[0]
		t.order = t.order[1:]
		if _, ok := t.pending[old]; ok {
			delete(t.pending, old)
			t.dropped++
		}
	}
	if len(t.order) > 2*t.cfg.MaxPending { // compact ids already scored
		keep := t.order[:0]
		for _, id := range t.order {
			if _, ok := t.pending[id]; ok {
				keep = append(keep, id)
			}
		}
		t.order = keep
	}
	return ABPrediction{ID: id, Arm: arm, Version: srv.Version.Version.String(), Value: p.value}, nil
}

// Observe scores a prediction against the actual value once it is known.
func (t *ABTest) Observe(id uint64, actual float64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.pending[id]
	if !ok {
		return fmt.Errorf("%w: %d", ErrUnknownPrediction, id)
	}
	delete(t.pending, id)
	if t.cfg.Mode == Shadow {
		ctrlErr := absErr(p.value, actual)
		candErr := absErr(p.shadow, actual)
		t.arms[0].add(p.value, actual)
		t.arms[1].add(p.shadow, actual)
		t.arms[0].sumAbs2 += ctrlErr * ctrlErr
		t.arms[1].sumAbs2 += candErr * candErr
		d := candErr - ctrlErr
		if !math.IsInf(d, 0) && !math.IsNaN(d) {
			t.pairN++
			t.pairSum += d
			t.pairSum2 += d * d
		}
		return nil
	}
	i := 0
	if p.arm == Challenger {
		i = 1
	}
	e := absErr(p.value, actual)
	t.arms[i].add(p.value, actual)
	t.arms[i].sumAbs2 += e * e
	return nil
}

// forecastAt is fc's point forecast horizon steps after history.
func forecastAt(ctx context.Context, fc *forecast.Forecaster, history []float64, horizon int) (float64, error) {
	if horizon < 1 || horizon > fc.Horizon() {
		return 0, fmt.Errorf("lifecycle: horizon %d: the forecaster forecasts h = 1..%d", horizon, fc.Horizon())
	}
	f, err := fc.Forecast(ctx, history)
	if err != nil {
		return 0, err
	}
	return f.Points[horizon-1].Value, nil
}

func absErr(pred, y float64) float64 {
	e := math.Abs(pred - y)
	if math.IsNaN(e) {
		return math.Inf(1)
	}
	return e
}

// ArmStats are one arm's scored predictions.
type ArmStats struct {
	Version string  `json:"version"`
	N       int     `json:"n"`
	MAE     float64 `json:"mae"`
	MAPE    float64 `json:"mape"`
	Acc5    float64 `json:"accuracy5"`
}

// ABResult is the comparison so far and the decision rule's verdict:
// "promote" (the candidate's absolute errors are significantly lower and its
// accuracy5 is not lower), "reject" (significantly higher, or no
// significant difference after MaxSamples), or "continue".
type ABResult struct {
	Mode      ABMode   `json:"mode"`
	Control   ArmStats `json:"control"`
	Candidate ArmStats `json:"candidate"`
	// Z is the test statistic of candidate minus control absolute error
	// (paired in shadow mode, Welch in split mode); negative favours the
	// candidate.
	Z        float64 `json:"z"`
	Decision string  `json:"decision"`
	Reason   string  `json:"reason"`
	Pending  int     `json:"pending"`
	Dropped  int     `json:"dropped"`
}

// Result evaluates the decision rule on the predictions scored so far.
func (t *ABTest) Result() ABResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := ABResult{Mode: t.cfg.Mode, Pending: len(t.pending), Dropped: t.dropped, Z: math.NaN()}
	stats := func(a *armAcc, v Version) ArmStats {
		s := ArmStats{Version: v.String(), N: a.n, MAE: math.NaN(), MAPE: math.NaN(), Acc5: math.NaN()}
		if a.n > 0 {
			m := a.metrics()
			s.MAE, s.MAPE, s.Acc5 = m.MAE, m.MAPE, m.Accuracy5
		}
		return s
	}
	r.Control = stats(&t.arms[0], t.control.Version.Version)
	r.Candidate = stats(&t.arms[1], t.candidate.Version.Version)
	n := min(r.Control.N, r.Candidate.N)
	if n < t.cfg.MinSamples {
		r.Decision = "continue"
		r.Reason = fmt.Sprintf("%d scored predictions per arm, need %d", n, t.cfg.MinSamples)
		return r
	}
	if t.cfg.Mode == Shadow {
		if t.pairN > 1 {
			mean := t.pairSum / float64(t.pairN)
			sd := math.Sqrt(math.Max(t.pairSum2/float64(t.pairN)-mean*mean, 0) * float64(t.pairN) / float64(t.pairN-1))
			r.Z = zStat(mean, sd/math.Sqrt(float64(t.pairN)))
		}
	} else {
		v := func(a *armAcc) float64 {
			m := a.sumAbs / float64(a.n)
			return math.Max(a.sumAbs2/float64(a.n)-m*m, 0) * float64(a.n) / float64(a.n-1) / float64(a.n)
		}
		diff := t.arms[1].sumAbs/float64(t.arms[1].n) - t.arms[0].sumAbs/float64(t.arms[0].n)
		r.Z = zStat(diff, math.Sqrt(v(&t.arms[0])+v(&t.arms[1])))
	}
	switch {
	case math.IsNaN(r.Z):
		r.Decision, r.Reason = "reject", "errors could not be compared"
	case r.Z <= -t.cfg.Z && r.Candidate.Acc5 >= r.Control.Acc5:
		r.Decision = "promote"
		r.Reason = fmt.Sprintf("candidate MAE %.4g vs %.4g (z %.2f <= -%.2f), accuracy5 %.4f vs %.4f over %d", r.Candidate.MAE, r.Control.MAE, r.Z, t.cfg.Z, r.Candidate.Acc5, r.Control.Acc5, n)
	case r.Z <= -t.cfg.Z:
		r.Decision = "reject"
		r.Reason = fmt.Sprintf("lower MAE (z %.2f) but accuracy5 %.4f below control's %.4f", r.Z, r.Candidate.Acc5, r.Control.Acc5)
	case r.Z >= t.cfg.Z:
		r.Decision = "reject"
		r.Reason = fmt.Sprintf("candidate MAE %.4g worse than %.4g (z %.2f >= %.2f) over %d", r.Candidate.MAE, r.Control.MAE, r.Z, t.cfg.Z, n)
	case n >= t.cfg.MaxSamples:
		r.Decision = "reject"
		r.Reason = fmt.Sprintf("no significant difference after %d predictions per arm (z %.2f)", n, r.Z)
	default:
		r.Decision = "continue"
		r.Reason = fmt.Sprintf("no significant difference yet (z %.2f, %d per arm)", r.Z, n)
	}
	return r
}

// zStat is diff/se, with a zero standard error giving -Inf, 0 or +Inf.
func zStat(diff, se float64) float64 {
	if se > 0 {
		return diff / se
	}
	switch {
	case diff < 0:
		return math.Inf(-1)
	case diff > 0:
		return math.Inf(1)
	}
	return 0
}

// Conclude records the outcome against the candidate in the registry (a
// note of kind "ab_test", or "rejected" when the verdict is reject) and, if
// promote is true and the verdict is promote, makes the candidate Active.
// A "continue" verdict records nothing.
func (t *ABTest) Conclude(promote bool) (ABResult, error) {
	r := t.Result()
	if r.Decision == "continue" || t.cfg.Registry == nil {
		return r, nil
	}
	model, ver := t.candidate.Version.Model, t.candidate.Version.Version.String()
	kind := "ab_test"
	if r.Decision == "reject" {
		kind = "rejected"
	}
	vals := map[string]float64{"control_mae": r.Control.MAE, "candidate_mae": r.Candidate.MAE,
		"control_accuracy5": r.Control.Acc5, "candidate_accuracy5": r.Candidate.Acc5,
		"n": float64(min(r.Control.N, r.Candidate.N))}
	if !math.IsInf(r.Z, 0) && !math.IsNaN(r.Z) {
		vals["z"] = r.Z
	}
	text := fmt.Sprintf("A/B %s vs %s (%s): %s: %s", ver, r.Control.Version, r.Mode, r.Decision, r.Reason)
	if err := t.cfg.Registry.Annotate(model, ver, Note{Time: t.cfg.Clock.Now(), Kind: kind, Text: text, Values: vals}); err != nil {
		return r, err
	}
	if promote && r.Decision == "promote" {
		if err := t.cfg.Registry.Promote(model, ver, text); err != nil {
			return r, err
		}
	}
	return r, nil
}
