package perfpredict

// Evaluate predicts every sample of d and scores the predictions against its
// targets, per output, in original units when the model has a target scaler
// (d.Y is then in scaled units, as for training).
func (m *Model) Evaluate(d Dataset) (Metrics, error) {
	if err := m.checkDataset("evaluation set", d); err != nil {
		return Metrics{}, err
	}
	raw := make([]float32, d.Samples*m.outputs)
	if err := m.PredictInto(raw, nil, d.X, d.Samples, d.Steps); err != nil {
		return Metrics{}, err
	}
	pred := make([]float64, len(raw))
	truth := make([]float64, len(raw))
	for i := range raw {
		pred[i], truth[i] = float64(raw[i]), float64(d.Y[i])
	}
	if m.Scaler != nil {
		k := m.outputs
		for i := 0; i < d.Samples; i++ {
			m.Scaler.Unscale(pred[i*k : (i+1)*k])
			m.Scaler.Unscale(truth[i*k : (i+1)*k])
		}
	}
	met, err := Score(pred, truth, m.outputs)
	if err != nil {
		return Metrics{}, err
	}
	met.OriginalUnits = m.Scaler != nil
	return met, nil
}
