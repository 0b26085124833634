package serve

import (
	"fmt"
	"slices"
	"strings"

	perfpredict "github.com/novacron/perfpredict"
)

// DeltaSuffix marks a target predicted as the change from the window's last
// value ("value_delta").
const DeltaSuffix = "_delta"

// Spec says what a model reads and what its outputs mean.
type Spec struct {
	// Metrics are the predicted metrics, in output order.
	Metrics []string
	// Horizon is the number of steps predicted per metric: output
	// m*Horizon + h-1 is metric m at h steps after the window's last row.
	Horizon int
	// Delta is true when the outputs are changes from the window's last
	// value of the metric (the train command's "value_delta").
	Delta bool
	// Features names the model's input columns in order (nil when the
	// checkpoint records none: windows are then checked by width only).
	Features []string
	// Steps is the window length T the model was trained on.
	Steps int
	// Inputs is F, the number of input features.
	Inputs int
	// Scaler maps the outputs to original units (nil: they already are).
	Scaler *perfpredict.TargetScaler
}

// Outputs is the number of model outputs, len(Metrics) * Horizon.
func (s Spec) Outputs() int { return len(s.Metrics) * s.Horizon }

// ParseSpec reads a model's Spec from its metadata. Target is "" (one
// metric "value" predicted as a level for K steps), a metric name or a
// comma-separated list of them, each optionally ending in "_delta" (all or
// none). "value_delta_window" (lifecycle/perfmodel's window-normalised target)
// is not served here.
func ParseSpec(m *perfpredict.Model) (Spec, error) {
	k := m.Outputs()
	sp := Spec{Steps: m.Config().Steps, Features: m.FeatureNames, Inputs: m.Features(), Scaler: m.Scaler}
	if m.FeatureNames != nil && len(m.FeatureNames) != m.Features() {
		return Spec{}, fmt.Errorf("serve: checkpoint names %d features, the model reads %d", len(m.FeatureNames), m.Features())
	}
	target := strings.TrimSpace(m.Target)
	if target == "" {
		target = "value"
	}
	if strings.HasSuffix(target, "_delta_window") {
		return Spec{}, fmt.Errorf("serve: target %q (window-normalised, lifecycle/perfmodel) is not supported; use a checkpoint written by perfpredict train", m.Target)
	}
	parts := strings.Split(target, ",")
	deltas := 0
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if strings.HasSuffix(p, DeltaSuffix) {
			deltas++
			p = strings.TrimSuffix(p, DeltaSuffix)
		}
		if p == "" {
			return Spec{}, fmt.Errorf("serve: target %q has an empty metric name", m.Target)
		}
		if slices.Contains(sp.Metrics, p) {
			return Spec{}, fmt.Errorf("serve: target %q names metric %q twice", m.Target, p)
		}
		sp.Metrics = append(sp.Metrics, p)
	}
	if deltas != 0 && deltas != len(parts) {
		return Spec{}, fmt.Errorf("serve: target %q mixes changes (%s) and levels", m.Target, DeltaSuffix)
	}
	sp.Delta = deltas > 0
	if k%len(sp.Metrics) != 0 {
		return Spec{}, fmt.Errorf("serve: the model has %d outputs, not a multiple of its %d target metrics %v", k, len(sp.Metrics), sp.Metrics)
	}
	sp.Horizon = k / len(sp.Metrics)
	if m.Horizon != 0 && m.Horizon != sp.Horizon {
		return Spec{}, fmt.Errorf("serve: checkpoint horizon %d disagrees with %d outputs for %d metrics", m.Horizon, k, len(sp.Metrics))
	}
	if sp.Delta && m.Scaler == nil {
		return Spec{}, fmt.Errorf("serve: target %q needs the checkpoint's target scaler, which is missing", m.Target)
	}
	return sp, nil
}

// TargetName is the Target metadata for metrics predicted as changes (delta)
// or levels: the inverse of ParseSpec.
func TargetName(metrics []string, delta bool) string {
	parts := make([]string, len(metrics))
	for i, m := range metrics {
		parts[i] = m
		if delta {
			parts[i] += DeltaSuffix
		}
	}
	return strings.Join(parts, ",")
}

// CheckFeatures compares the names of a window's columns with the model's,
// naming the first missing, extra or misplaced feature.
func (s Spec) CheckFeatures(names []string) error {
	if s.Features == nil || names == nil {
		return nil
	}
	if slices.Equal(s.Features, names) {
		return nil
	}
	for _, f := range s.Features {
		if !slices.Contains(names, f) {
			return fmt.Errorf("serve: feature %q of the model is missing from the input (input has %d features, the model %d)", f, len(names), len(s.Features))
		}
	}
	for _, f := range names {
		if !slices.Contains(s.Features, f) {
			return fmt.Errorf("serve: input feature %q is unknown to the model", f)
		}
	}
	for i := range names {
		if i < len(s.Features) && names[i] != s.Features[i] {
			return fmt.Errorf("serve: input column %d is %q, the model expects %q there (features in a different order)", i, names[i], s.Features[i])
		}
	}
	return fmt.Errorf("serve: input has %d features, the model %d", len(names), len(s.Features))
}
