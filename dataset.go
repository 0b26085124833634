package perfpredict

import (
	"fmt"
	"math"
)

// Dataset is a set of windows and their targets, batch first and row-major:
// X holds Samples*Steps*Features values ([N, T, F], already scaled) and Y
// Samples*Outputs values ([N, K], scaled with the model's target scaler when
// it has one).
type Dataset struct {
	X        []float32
	Y        []float32
	Samples  int
	Steps    int
	Features int
	Outputs  int
}

// NewDataset checks the sizes and returns the dataset.
func NewDataset(x, y []float32, samples, steps, features, outputs int) (Dataset, error) {
	d := Dataset{X: x, Y: y, Samples: samples, Steps: steps, Features: features, Outputs: outputs}
	return d, d.checkShape("dataset")
}

// Len is the number of samples.
func (d Dataset) Len() int { return d.Samples }

// Window returns sample i's window [T, F] and target [K] (views, not copies).
func (d Dataset) Window(i int) (x, y []float32) {
	tf := d.Steps * d.Features
	return d.X[i*tf : (i+1)*tf], d.Y[i*d.Outputs : (i+1)*d.Outputs]
}

func (d Dataset) checkShape(what string) error {
	if d.Samples < 0 || d.Steps <= 0 || d.Features <= 0 || d.Outputs <= 0 {
		if d.Samples == 0 && len(d.X) == 0 && len(d.Y) == 0 {
			return nil // an empty dataset (e.g. no validation set)
		}
		return fmt.Errorf("perfpredict: %s: sizes samples=%d steps=%d features=%d outputs=%d must be positive", what, d.Samples, d.Steps, d.Features, d.Outputs)
	}
	if len(d.X) != d.Samples*d.Steps*d.Features {
		return fmt.Errorf("perfpredict: %s: x has %d values, want samples %d x steps %d x features %d = %d", what, len(d.X), d.Samples, d.Steps, d.Features, d.Samples*d.Steps*d.Features)
	}
	if len(d.Y) != d.Samples*d.Outputs {
		return fmt.Errorf("perfpredict: %s: y has %d values, want samples %d x outputs %d = %d", what, len(d.Y), d.Samples, d.Outputs, d.Samples*d.Outputs)
	}
	return nil
}

// checkFinite reports the first NaN or infinite value, naming the sample,
// time step and feature (or output).
// names, when it has one per feature, adds the feature's name.
func (d Dataset) checkFinite(what string, names []string) error {
	for i, v := range d.X {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			s := i / (d.Steps * d.Features)
			r := i % (d.Steps * d.Features)
			f := r % d.Features
			name := ""
			if len(names) == d.Features {
				name = fmt.Sprintf(" (%s)", names[f])
			}
			return fmt.Errorf("perfpredict: %s: x[sample %d, step %d, feature %d%s] is %v", what, s, r/d.Features, f, name, v)
		}
	}
	for i, v := range d.Y {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("perfpredict: %s: y[sample %d, output %d] is %v", what, i/d.Outputs, i%d.Outputs, v)
		}
	}
	return nil
}
