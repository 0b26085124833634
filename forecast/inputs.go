package forecast

// Inputs returns the network inputs [Window, len(Recipe().Inputs)] that
// Forecast feeds every network for history, and the unit its outputs are
// in (a forecast is Last + unit * output). Explanations use it to perturb
// exactly what the networks read; the errors are Forecast's.
func (fc *Forecaster) Inputs(history []float64) (x []float32, unit float64, err error) {
	r := fc.recipe
	x = make([]float32, r.Window*len(r.Inputs))
	if unit, err = r.inputs(x, history, -1); err != nil {
		return nil, 0, err
	}
	return x, unit, nil
}
