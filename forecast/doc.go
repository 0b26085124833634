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
// A Report holds the point accuracy of the forecaster and the baselines per
// series and horizon, the scores of the forecaster's p10/p50/p90 against
// split-conformal intervals of persistence and Holt-Winters
// (Report.Intervals), and the accuracy by scenario: normal, peak and low
// load and labelled anomalies (Report.Scenarios). CrossValidate builds the
// same report from held-out folds.
//
// The recipe is a pure function of the most recent Needs() observations:
// the inputs of the window and the unit of the outputs (the mean absolute
// one-step change over the last ScaleWindow steps) are computed from those
// rows alone, so a forecast never depends on how much older history the
// caller passes, and the same code forms the windows that training,
// evaluation and serving see. The network predicts, for h = 1..Horizon, the
// change from the last value in that unit; the forecast is the last value
// plus the change times the unit, and its p10/p90 are the quantiles of the
// validation residuals in a spread of the same rows (Calibration,
// ScaleSpread).
//
// A Switch follows one series with state: fitted once on its history, then
// fed each observation, it forecasts each horizon with the Forecaster's
// networks, a ridge autoregression of that series, the Forecaster's switch
// trees (Options.SwitchTrees) or an average of two or three of them,
// whichever erred less there lately, with an 80% interval from the
// network's and its own recent errors, widened or narrowed until it
// covers 80% of that series' targets (Point).
// Evaluate scores it beside the forecaster, as the baselines are scored:
//
//	*Forecaster --NewSwitch--> *Switch --Fit(history), Update(v)--> Forecast(h)
package forecast
