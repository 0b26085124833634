package forecast

import "fmt"

// Inputs returns the network inputs [Window, len(Recipe().Inputs)] that
// Forecast feeds every network for history, and the unit its outputs are
// in (a forecast is Last + unit * output). Explanations use it to perturb
// exactly what the networks read; the errors are Forecast's.
func (fc *Forecaster) Inputs(history []float64) (x []float32, unit float64, err error) {
	r := fc.recipe
	needs := r.Needs()
	if len(history) < needs {
		return nil, 0, badInput(fmt.Errorf("forecast: history holds %d observations; the forecaster needs the last %d", len(history), needs))
	}
	recent := history[len(history)-needs:]
	if err := checkFinite(recent); err != nil {
		return nil, 0, badInput(fmt.Errorf("forecast: history: %v", err))
	}
	x = make([]float32, r.Window*len(r.Inputs))
	return x, r.window(x, recent), nil
}
