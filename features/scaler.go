package features

import (
	"encoding/json"
	"fmt"
	"math"
)

// Scaler standardises each column: (x - Mean) / Std. Fit it on the training
// rows only. It marshals to JSON as {"names","mean","std"} so a model
// checkpoint can carry it.
type Scaler struct {
	Names []string  `json:"names"`
	Mean  []float64 `json:"mean"`
	// Std is the population standard deviation (ddof 0); 1 for a column
	// that is constant, or whose spread is below float32 resolution
	// (std <= 1e-6 |mean|), so such a column maps to 0 instead of noise.
	Std []float64 `json:"std"`
}

// FitScaler fits a scaler on rows [lo, hi) of f.
func FitScaler(f *Frame, lo, hi int) (*Scaler, error) {
	if lo < 0 || hi > f.Rows() || lo >= hi {
		return nil, fmt.Errorf("features: cannot fit a scaler on rows [%d, %d) of %d", lo, hi, f.Rows())
	}
	c := f.Cols()
	return FitScalerData(f.Data[lo*c:hi*c], f.Names), nil
}

// FitScalerData fits a scaler on row-major data with len(names) columns.
func FitScalerData(data []float32, names []string) *Scaler {
	c := len(names)
	if c == 0 || len(data)%c != 0 || len(data) == 0 {
		panic(fmt.Sprintf("features: FitScalerData: %d values for %d columns", len(data), c))
	}
	rows := len(data) / c
	s := &Scaler{Names: append([]string(nil), names...), Mean: make([]float64, c), Std: make([]float64, c)}
	lo := make([]float32, c)
	hi := make([]float32, c)
	copy(lo, data[:c])
	copy(hi, data[:c])
	for r := 0; r < rows; r++ {
		row := data[r*c : (r+1)*c]
		for j, v := range row {
			s.Mean[j] += float64(v)
			lo[j] = min(lo[j], v)
			hi[j] = max(hi[j], v)
		}
	}
	for j := range s.Mean {
		s.Mean[j] /= float64(rows)
	}
	for r := 0; r < rows; r++ {
		row := data[r*c : (r+1)*c]
		for j, v := range row {
			d := float64(v) - s.Mean[j]
			s.Std[j] += d * d
		}
	}
	for j := range s.Std {
		sd := math.Sqrt(s.Std[j] / float64(rows))
		if lo[j] == hi[j] {
			s.Mean[j] = float64(lo[j])
			sd = 1
		} else if !(sd > 1e-6*math.Abs(s.Mean[j])) {
			sd = 1
		}
		s.Std[j] = sd
	}
	return s
}

// Transform standardises row-major data with len(s.Mean) columns in place.
func (s *Scaler) Transform(data []float32) {
	c := s.check(data)
	for i := 0; i < len(data); i += c {
		row := data[i : i+c]
		for j, v := range row {
			row[j] = float32((float64(v) - s.Mean[j]) / s.Std[j])
		}
	}
}

// Inverse undoes Transform in place.
func (s *Scaler) Inverse(data []float32) {
	c := s.check(data)
	for i := 0; i < len(data); i += c {
		row := data[i : i+c]
		for j, v := range row {
			row[j] = float32(float64(v)*s.Std[j] + s.Mean[j])
		}
	}
}

// TransformValue standardises one value of column j.
func (s *Scaler) TransformValue(j int, v float64) float64 { return (v - s.Mean[j]) / s.Std[j] }

// InverseValue maps a standardised value of column j back to its units.
func (s *Scaler) InverseValue(j int, v float64) float64 { return v*s.Std[j] + s.Mean[j] }

func (s *Scaler) check(data []float32) int {
	c := len(s.Mean)
	if c == 0 || len(data)%c != 0 {
		panic(fmt.Sprintf("features: scaler of %d columns given %d values", c, len(data)))
	}
	return c
}

// ParseScaler reads a scaler from its JSON form and validates it.
func ParseScaler(b []byte) (*Scaler, error) {
	var s Scaler
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("features: scaler: %w", err)
	}
	if len(s.Mean) != len(s.Names) || len(s.Std) != len(s.Names) || len(s.Names) == 0 {
		return nil, fmt.Errorf("features: scaler: %d names, %d means, %d stds", len(s.Names), len(s.Mean), len(s.Std))
	}
	for j := range s.Mean {
		if math.IsNaN(s.Mean[j]) || math.IsInf(s.Mean[j], 0) || !(s.Std[j] > 0) || math.IsInf(s.Std[j], 0) {
			return nil, fmt.Errorf("features: scaler: column %q has mean %v, std %v", s.Names[j], s.Mean[j], s.Std[j])
		}
	}
	return &s, nil
}
