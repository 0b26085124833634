// Package forecast owns perfpredict's forecasting recipe from training to
// serving: one network (or an averaged ensemble of networks) trained over
// many series at once, the per-horizon calibration that gives its intervals,
// the evaluation protocol that scores it, and the single artifact file that
// every consumer opens.
//
// Data flow:
//
//	[]baseline.Series --Train--> *Forecaster --Save--> forecaster.zip
//	forecaster.zip --Open--> *Forecaster --Forecast(history)--> Forecast
//	*Forecaster + []baseline.Series --Evaluate--> Report (PROTOCOL.md)
//
// The recipe is a pure function of the most recent Needs() observations:
// the inputs of the window and the unit of the outputs (the mean absolute
// one-step change over the last ScaleWindow steps) are computed from those
// rows alone, so a forecast never depends on how much older history the
// caller passes, and the same code forms the windows that training,
// evaluation and serving see. The network predicts, for h = 1..Horizon, the
// change from the last value in that unit; the forecast is the last value
// plus the change times the unit, and its p10/p90 are the quantiles of the
// validation residuals in the same unit.
package forecast
