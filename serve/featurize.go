package serve

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/features"
)

// Targets of the two recipes a Featurizer reproduces.
const (
	// ProtocolTarget is the train command's recipe: inputs rel_last, level
	// and diff of one metric ("NAME@CLIP" feature names), outputs the change
	// from the window's last value in units of the training split's mean
	// absolute one-step change (the MASE scale).
	ProtocolTarget = "value_delta/mase_scale"
	// The engineered recipe's target is TargetName(metrics, true): inputs are
	// features.Engineer's columns standardised on the training rows, outputs
	// the changes standardised by Model.Scaler.
)

// A Featurizer turns metrics into model windows the way the model was
// trained, with statistics fitted on a history's training split.
type Featurizer interface {
	// Names are the features, in the model's order.
	Names() []string
	// Metrics are the predicted metrics.
	Metrics() []string
	// Unit is the size of one model output unit of metric m, before the
	// model's own target scaler (the MASE scale, or 1).
	Unit(m int) float64
	// Prepare computes what windows of d need.
	Prepare(d *Data) (Rows, error)
}

// Rows gives the windows of one Data.
type Rows interface {
	// First is the first row a window may end at.
	First() int
	// Window writes the T rows of features ending at row t into dst [T*F].
	Window(dst []float32, t, T int)
}

// FitFeaturizer fits the recipe of m's checkpoint on history's training
// split (the first 70% of rows, PROTOCOL.md) and returns the Spec of m
// served with it (outputs mapped to original units).
func FitFeaturizer(m *perfpredict.Model, history *Data) (Featurizer, Spec, error) {
	if err := history.check(); err != nil {
		return nil, Spec{}, err
	}
	if m.Target == ProtocolTarget {
		fz, err := FitProtocol(history, m.FeatureNames)
		if err != nil {
			return nil, Spec{}, err
		}
		if len(fz.inputs) != m.Features() {
			return nil, Spec{}, fmt.Errorf("serve: the checkpoint names %d inputs for %d features", len(fz.inputs), m.Features())
		}
		sp := Spec{Metrics: []string{"value"}, Horizon: m.Outputs(), Delta: true, Features: m.FeatureNames,
			Steps: m.Config().Steps, Inputs: m.Features()}
		sp.Scaler = composeScaler(m.Scaler, sp.Outputs(), sp.Horizon, fz.Unit)
		return fz, sp, nil
	}
	sp, err := ParseSpec(m)
	if err != nil {
		return nil, Spec{}, err
	}
	if !sp.Delta {
		return nil, Spec{}, fmt.Errorf("serve: target %q: only changes (%q or %q) are served from metrics", m.Target, ProtocolTarget, TargetName(sp.Metrics, true))
	}
	fz, err := FitEngineered(history, sp.Metrics)
	if err != nil {
		return nil, Spec{}, err
	}
	if err := sp.CheckFeatures(fz.Names()); err != nil {
		return nil, Spec{}, fmt.Errorf("%w (features engineered from %s)", err, history.Name)
	}
	if len(fz.Names()) != m.Features() {
		return nil, Spec{}, fmt.Errorf("serve: %s gives %d features, the model reads %d", history.Name, len(fz.Names()), m.Features())
	}
	return fz, sp, nil
}

// composeScaler maps outputs to original units: unit(m) * (scaler or 1).
func composeScaler(s *perfpredict.TargetScaler, k, h int, unit func(int) float64) *perfpredict.TargetScaler {
	out := &perfpredict.TargetScaler{Mean: make([]float64, k), Std: make([]float64, k)}
	for i := range k {
		mean, std := 0.0, 1.0
		if s != nil {
			mean, std = s.Mean[i], s.Std[i]
		}
		u := unit(i / h)
		out.Mean[i], out.Std[i] = u*mean, u*std
	}
	return out
}

// Protocol is the train command's input recipe on one metric: at each step
// i of the window ending at origin t, its inputs (ProtocolInput), and as
// outputs for h = 1..K the change (y[t+h]-y[t])/d (Target), inverted by
// Forecast. The train command trains with it and every serving command
// serves with it, so a checkpoint cannot be featurised two ways.
type Protocol struct {
	inputs []ProtocolInput
	names  []string
	metric string
	Scale  float64         // d: mean |y[i]-y[i-1]| over the training split
	Level  baseline.Scaler // mean and deviation over the training split
}

// ProtocolInput is one input channel of the recipe, clipped to ±Clip so
// that a spike or a level shift after training cannot drive the network far
// outside what it was trained on:
//
//	rel_last  (y[i] - y[t]) / d      the path relative to the last value
//	level     (y[i] - mu) / sd       where the value stands in its range
//	diff      (y[i] - y[i-1]) / d    the one-step change
type ProtocolInput struct {
	Name string
	Clip float64
}

// String is the input's feature name in a checkpoint, NAME@CLIP.
func (in ProtocolInput) String() string {
	return in.Name + "@" + strconv.FormatFloat(in.Clip, 'g', -1, 64)
}

// ProtocolInputs are FitProtocol's default inputs (the train command's
// default, its --inputs, leaves level out).
var ProtocolInputs = []string{"rel_last@30", "level@10", "diff@30"}

// ParseProtocolInputs reads the recipe's inputs from feature names
// ("rel_last@30"). Its errors name the feature at fault and carry no
// package prefix (the train command reports them for its --inputs flag).
func ParseProtocolInputs(names []string) ([]ProtocolInput, error) {
	if len(names) == 0 {
		return nil, errors.New("the checkpoint names no input features")
	}
	var out []ProtocolInput
	for _, n := range names {
		name, c, ok := strings.Cut(n, "@")
		clip, err := strconv.ParseFloat(c, 64)
		if !ok || err != nil || !(clip > 0) || math.IsInf(clip, 0) {
			return nil, fmt.Errorf("input feature %q is not NAME@CLIP", n)
		}
		switch name {
		case "rel_last", "level", "diff":
		default:
			return nil, fmt.Errorf("input feature %q: unknown input %q (known: rel_last, level, diff)", n, name)
		}
		out = append(out, ProtocolInput{name, clip})
	}
	return out, nil
}

// FitProtocol fits the train command's recipe on the first metric of
// history; names are the checkpoint's feature names (nil: ProtocolInputs).
func FitProtocol(history *Data, names []string) (*Protocol, error) {
	if names == nil {
		names = ProtocolInputs
	}
	inputs, err := ParseProtocolInputs(names)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	p := &Protocol{inputs: inputs, names: names, metric: history.Metrics[0]}
	y := history.Values[0]
	sp := baseline.SplitOf(len(y))
	if sp.Train < 2 {
		return nil, fmt.Errorf("serve: %s: %d rows leave %d for training", history.Name, len(y), sp.Train)
	}
	for _, v := range y[:sp.Train] {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("serve: %s: training rows hold %v", history.Name, v)
		}
	}
	p.Scale = baseline.NaiveScale(y, sp)
	if !(p.Scale > 0) {
		p.Scale = 1
	}
	p.Level = baseline.FitScaler(y[:sp.Train])
	return p, nil
}

// WithInputs is p's fitted scales with other inputs (those of another
// checkpoint on the same series).
func (p *Protocol) WithInputs(inputs []ProtocolInput) *Protocol {
	q := *p
	q.inputs = slices.Clone(inputs)
	q.names = make([]string, len(inputs))
	for i, in := range inputs {
		q.names[i] = in.String()
	}
	return &q
}

func (p *Protocol) Names() []string   { return p.names }
func (p *Protocol) Metrics() []string { return []string{"value"} }
func (p *Protocol) Unit(int) float64  { return p.Scale }

// Inputs are the recipe's input channels, in the model's order.
func (p *Protocol) Inputs() []ProtocolInput { return p.inputs }

// Window writes the T input rows [T, len(Inputs())] of the window of y
// ending at origin t (t >= T) into dst.
func (p *Protocol) Window(dst []float32, y []float64, t, T int) {
	f := len(p.inputs)
	last := y[t]
	for row := range T {
		i := t - T + 1 + row
		for c, in := range p.inputs {
			var v float64
			switch in.Name {
			case "rel_last":
				v = (y[i] - last) / p.Scale
			case "level":
				v = p.Level.Scale(y[i])
			case "diff":
				v = (y[i] - y[i-1]) / p.Scale
			}
			dst[row*f+c] = float32(math.Max(-in.Clip, math.Min(in.Clip, v)))
		}
	}
}

// Target is the model's output for horizon h at origin t: the change from
// the last value in MASE units, so an L1 loss is the mean MASE.
func (p *Protocol) Target(y []float64, t, h int) float64 { return (y[t+h] - y[t]) / p.Scale }

// Forecast turns the output for origin t back into a value: y[t] + d*out.
func (p *Protocol) Forecast(y []float64, t int, out float64) float64 { return y[t] + p.Scale*out }

// Prepare uses the metric the protocol was fitted on, or d's only metric.
func (p *Protocol) Prepare(d *Data) (Rows, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	m := d.Metric(p.metric)
	if m < 0 {
		if len(d.Metrics) != 1 {
			return nil, fmt.Errorf("serve: %s has no metric %q", d.Name, p.metric)
		}
		m = 0
	}
	return protocolRows{p, d.Values[m]}, nil
}

type protocolRows struct {
	p *Protocol
	y []float64
}

func (r protocolRows) First() int { return 1 }

func (r protocolRows) Window(dst []float32, t, T int) { r.p.Window(dst, r.y, t, T) }

// Engineered is the features.Engineer recipe: every column standardised
// with the scaler fitted on the history's training rows.
type Engineered struct {
	Scaler  *features.Scaler
	Cadence time.Duration
	metrics []string // predicted metrics
	cols    []string // data metrics engineered, in the grid's order
}

// FitEngineered engineers history's features and fits their scaler on the
// training rows; metrics are the predicted ones ("value" stands for a
// one-metric history's only metric).
func FitEngineered(history *Data, metrics []string) (*Engineered, error) {
	e := &Engineered{metrics: metrics, Cadence: medianStep(history.Times)}
	fr, err := e.frame(history)
	if err != nil {
		return nil, err
	}
	sp := baseline.SplitOf(history.Len())
	if e.Scaler, err = features.FitScaler(fr, 0, sp.Train); err != nil {
		return nil, fmt.Errorf("serve: %s: feature scaler: %w", history.Name, err)
	}
	return e, nil
}

func (e *Engineered) Names() []string   { return e.Scaler.Names }
func (e *Engineered) Metrics() []string { return e.metrics }
func (e *Engineered) Unit(int) float64  { return 1 }

// frame engineers d's features on a grid of its rows.
func (e *Engineered) frame(d *Data) (*features.Frame, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	names := d.Metrics
	if len(d.Metrics) == 1 && slices.Equal(e.metrics, []string{"value"}) {
		names = []string{"value"}
	}
	for _, m := range e.metrics {
		if !slices.Contains(names, m) {
			return nil, fmt.Errorf("serve: %s has no metric %q (it has %v)", d.Name, m, d.Metrics)
		}
	}
	// The grid wants metrics in name order, like features.Series.
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	n := d.Len()
	g := &features.Grid{Cadence: e.Cadence, Times: make([]int64, n), Break: make([]bool, n)}
	for _, i := range order {
		g.Names = append(g.Names, names[i])
		g.Values = append(g.Values, d.Values[i])
	}
	for i, t := range d.Times {
		g.Times[i] = t.UnixNano()
		if i > 0 && g.Times[i] <= g.Times[i-1] {
			g.Times[i] = g.Times[i-1] + 1
		}
	}
	for m, v := range g.Values {
		for i, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("serve: %s: metric %s at row %d (%s) is %v: %w", d.Name, g.Names[m], i+1, d.Times[i].Format(time.RFC3339), x, ErrBadInput)
			}
		}
	}
	fr, err := features.Engineer(g, nil)
	if err != nil {
		return nil, fmt.Errorf("serve: %s: features: %w", d.Name, err)
	}
	e.cols = g.Names
	return fr, nil
}

// Prepare engineers and scales d's features.
func (e *Engineered) Prepare(d *Data) (Rows, error) {
	fr, err := e.frame(d)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(fr.Names, e.Scaler.Names) {
		if err := (Spec{Features: e.Scaler.Names}).CheckFeatures(fr.Names); err != nil {
			return nil, fmt.Errorf("%w (features engineered from %s, metrics %v): %w", err, d.Name, d.Metrics, ErrBadInput)
		}
		return nil, errors.New("serve: " + d.Name + ": engineered features differ from the fitted ones")
	}
	x := append([]float32(nil), fr.Data...)
	e.Scaler.Transform(x)
	return engineeredRows{x: x, f: fr.Cols()}, nil
}

type engineeredRows struct {
	x []float32
	f int
}

func (r engineeredRows) First() int { return 0 }

func (r engineeredRows) Window(dst []float32, t, T int) {
	copy(dst, r.x[(t-T+1)*r.f:(t+1)*r.f])
}

// medianStep is the median positive spacing of times (a minute without).
func medianStep(times []time.Time) time.Duration {
	var d []time.Duration
	for i := 1; i < len(times); i++ {
		if dt := times[i].Sub(times[i-1]); dt > 0 {
			d = append(d, dt)
		}
	}
	if len(d) == 0 {
		return time.Minute
	}
	slices.Sort(d)
	return d[len(d)/2]
}
