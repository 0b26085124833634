package features

import "fmt"

// PrepareOptions gather the options of every step; zero values are the
// defaults (60-step windows, a 70/15/15 split, 5/15/30-minute rolling windows).
type PrepareOptions struct {
	Load     LoadOptions
	Grid     GridOptions
	Features Options
	Windows  WindowOptions
	Ratios   SplitRatios // zero: DefaultRatios
}

// Dataset is everything the model needs from one metrics file: the scaled
// frame, the scaler fitted on its training rows, and the windows of each
// split.
type Dataset struct {
	Frame            *Frame
	Scaler           *Scaler
	Split            Split
	Train, Val, Test *Windows
	LoadReport       LoadReport
	GridReport       GridReport
}

// Prepare goes from a metrics file to the model's windows: load, resample,
// engineer, split chronologically, fit the scaler on the training rows only,
// scale every row, and index the windows of each split.
func Prepare(path string, opt PrepareOptions) (*Dataset, error) {
	s, lrep, err := Load(path, opt.Load)
	if err != nil {
		return nil, err
	}
	d, err := PrepareTable(s, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d.LoadReport = lrep
	return d, nil
}

// PrepareTable is Prepare for a table already in memory.
func PrepareTable(s *Table, opt PrepareOptions) (*Dataset, error) {
	g, grep, err := Resample(s, opt.Grid)
	if err != nil {
		return nil, err
	}
	f, err := Engineer(g, &opt.Features)
	if err != nil {
		return nil, err
	}
	ratios := opt.Ratios
	if ratios == (SplitRatios{}) {
		ratios = DefaultRatios()
	}
	sp, err := SplitRows(f.Rows(), ratios)
	if err != nil {
		return nil, err
	}
	if sp.TrainEnd == 0 {
		return nil, fmt.Errorf("features: %d rows leave no training rows", f.Rows())
	}
	sc, err := FitScaler(f, 0, sp.TrainEnd)
	if err != nil {
		return nil, err
	}
	sc.Transform(f.Data)
	w, err := NewWindows(f, opt.Windows)
	if err != nil {
		return nil, err
	}
	d := &Dataset{Frame: f, Scaler: sc, Split: sp, GridReport: grep}
	d.Train, d.Val, d.Test = sp.Sets(w)
	if d.Train.Len() == 0 {
		return nil, fmt.Errorf("features: no training window of %d steps fits in %d training rows", w.Steps(), sp.TrainEnd)
	}
	return d, nil
}
