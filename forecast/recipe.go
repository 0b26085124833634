package forecast

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Recipe is how a window of observations becomes the network's inputs and
// how its outputs become forecasts. It is saved in the artifact, so a
// forecaster is always served the way it was trained.
type Recipe struct {
	// Window is the number of steps T the network reads.
	Window int `json:"window"`
	// ScaleWindow is the number of one-step changes the unit is the mean
	// absolute value of (the most recent ones).
	ScaleWindow int `json:"scale_window"`
	// Horizon is the largest horizon K; the network forecasts h = 1..K.
	Horizon int `json:"horizon"`
	// Inputs are the input channels per step, in the network's order.
	Inputs []Input `json:"inputs"`
	// TargetClip bounds the training targets (in units) so that a window
	// whose unit is tiny cannot dominate the loss.
	TargetClip float64 `json:"target_clip"`
	// Season is the season in steps that the season input reads one of
	// back (288: a day at 5 minutes); unused without that input.
	Season int `json:"season,omitempty"`
}

// Input is one input channel, clipped to ±Clip:
//
//	rel_last  (y[i] - y[t]) / u          the path relative to the last value
//	diff      (y[i] - y[i-1]) / u        the one-step change
//	rel_mean  (y[i] - m) / u             where the value stands against the recent level
//	season    (y[i - S + K] - y[t]) / u  the path one season back, K steps on
//
// where t is the window's last step, u its unit, m the mean of the last
// max(Window, ScaleWindow) + 1 observations, S the Season and K the
// Horizon: the season input's last K rows are the values one season
// before the targets t+1..t+K.
type Input struct {
	Name string  `json:"name"`
	Clip float64 `json:"clip"`
}

// String is NAME@CLIP, the input's feature name in member checkpoints.
func (in Input) String() string { return in.Name + "@" + strconv.FormatFloat(in.Clip, 'g', -1, 64) }

// Known input names.
const (
	InputRelLast = "rel_last"
	InputDiff    = "diff"
	InputRelMean = "rel_mean"
	InputSeason  = "season"
)

// Needs is the number of most recent observations a forecast depends on:
// the window's (core), and with the season input a season before them.
func (r Recipe) Needs() int { return r.core() + r.seasonBack() }

// core is the number of most recent observations the unit, the window's
// own inputs, the interval scale and the trees' features read.
func (r Recipe) core() int { return max(r.Window, r.ScaleWindow) + 1 }

// seasonBack is how many steps before the core the season input reaches.
func (r Recipe) seasonBack() int {
	if !r.reads(InputSeason) {
		return 0
	}
	return r.Season - r.Horizon
}

// reads reports whether the recipe has an input channel of that name.
func (r Recipe) reads(name string) bool {
	return slices.ContainsFunc(r.Inputs, func(in Input) bool { return in.Name == name })
}

// ParseInputs reads input channels written as Input.String writes them,
// comma-separated: NAME@CLIP,NAME@CLIP,... (names are checked when the
// recipe is).
func ParseInputs(s string) ([]Input, error) {
	var out []Input
	for _, f := range strings.Split(s, ",") {
		name, c, ok := strings.Cut(strings.TrimSpace(f), "@")
		clip, err := strconv.ParseFloat(c, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("%q is not NAME@CLIP", f)
		}
		out = append(out, Input{Name: name, Clip: clip})
	}
	return out, nil
}

func (r Recipe) check() error {
	if r.Window < 1 {
		return fmt.Errorf("window %d: must be at least 1", r.Window)
	}
	if r.ScaleWindow < 1 {
		return fmt.Errorf("scale window %d: must be at least 1", r.ScaleWindow)
	}
	if r.Horizon < 1 {
		return fmt.Errorf("horizon %d: must be at least 1", r.Horizon)
	}
	if len(r.Inputs) == 0 {
		return fmt.Errorf("no inputs")
	}
	for _, in := range r.Inputs {
		if in.Name != InputRelLast && in.Name != InputDiff && in.Name != InputRelMean && in.Name != InputSeason {
			return fmt.Errorf("input %q: unknown (known: %s, %s, %s, %s)", in.Name, InputRelLast, InputDiff, InputRelMean, InputSeason)
		}
		if in.Name == InputSeason && r.Season <= r.Horizon {
			return fmt.Errorf("input %s: season %d steps: must be longer than the horizon %d", in, r.Season, r.Horizon)
		}
		if !(in.Clip > 0) || math.IsInf(in.Clip, 0) {
			return fmt.Errorf("input %s: clip must be positive and finite", in)
		}
	}
	if !(r.TargetClip > 0) {
		return fmt.Errorf("target clip %g: must be positive", r.TargetClip)
	}
	return nil
}

// unit is the mean absolute one-step change over the last ScaleWindow
// changes of recent (which holds at least Needs() values), floored so that a
// constant stretch gives a small positive unit rather than zero.
func (r Recipe) unit(recent []float64) float64 {
	n := len(recent)
	var s, level float64
	for i := n - r.ScaleWindow; i < n; i++ {
		s += math.Abs(recent[i] - recent[i-1])
		level += math.Abs(recent[i])
	}
	u := s / float64(r.ScaleWindow)
	floor := max(1e-6*level/float64(r.ScaleWindow), 1e-12)
	return max(u, floor)
}

// window writes the network's inputs [Window, len(Inputs)] for the window
// ending at the last value of recent (at least Needs() values, nothing
// else read) into dst and returns the unit.
func (r Recipe) window(dst []float32, recent []float64) float64 {
	n := len(recent)
	recent = recent[n-r.Needs():]
	n = len(recent)
	core := recent[n-r.core():]
	u := r.unit(core)
	last := recent[n-1]
	var mean float64
	for _, v := range core {
		mean += v
	}
	mean /= float64(len(core))
	f := len(r.Inputs)
	for row := range r.Window {
		i := n - r.Window + row
		for c, in := range r.Inputs {
			var v float64
			switch in.Name {
			case InputRelLast:
				v = (recent[i] - last) / u
			case InputDiff:
				v = (recent[i] - recent[i-1]) / u
			case InputRelMean:
				v = (recent[i] - mean) / u
			case InputSeason:
				v = (recent[i-r.Season+r.Horizon] - last) / u
			}
			dst[row*f+c] = float32(math.Max(-in.Clip, math.Min(in.Clip, v)))
		}
	}
	return u
}

// inputs checks history (oldest first) and writes the network inputs of
// its last Needs() values into dst, returning the unit: the one path from a
// history to what the networks read. i numbers the history in errors
// (history i+1 of a batch; a negative i names none).
func (r Recipe) inputs(dst []float32, history []float64, i int) (float64, error) {
	name := "history"
	if i >= 0 {
		name = fmt.Sprintf("history %d", i+1)
	}
	needs := r.Needs()
	if len(history) < needs {
		return 0, badInput(fmt.Errorf("forecast: %s holds %d observations; the forecaster needs the last %d", name, len(history), needs))
	}
	recent := history[len(history)-needs:]
	if err := checkFinite(recent); err != nil {
		return 0, badInput(fmt.Errorf("forecast: %s: %v", name, err))
	}
	return r.window(dst, recent), nil
}

// checkFinite reports the first value of recent that is NaN or infinite.
func checkFinite(recent []float64) error {
	for i, v := range recent {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("observation %d of the last %d is %v", i+1, len(recent), v)
		}
	}
	return nil
}
