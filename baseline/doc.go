// Package baseline holds the statistical forecasters the model is compared
// with (and falls back to when it fails), and the evaluation protocol every
// accuracy figure of the project is computed with (docs/PROTOCOL.md).
//
// Data flow: a Series (timestamp, value; LoadCSV parses the file with
// features.Read, the project's one parser, sorts stably by time and keeps
// every row as one step, a missing value being an error) is cut by position into train, validation and
// test (SplitOf: 70/15/15). A Forecaster fits its parameters once on train and
// validation (Fit), then is run forward through the whole series one
// observation at a time (Reset, Update), never refitted; after the observation
// at origin t it forecasts y[t+h] (Forecast). Evaluate does exactly that for
// every test index j at origin j-h, and Score turns the forecasts into Metrics
// (MAE, RMSE, MAPE, R2, MASE, accuracy5) in original units. Forecasts made
// elsewhere (the neural model) are scored on the same target points by
// passing them to Score. GeoMean summarises MASE over series.
//
// Probabilistic forecasts (p10, p50, p90) are scored by ScoreIntervals:
// coverage of the 80% interval, the interval (Winkler) score and the
// pinball loss, both scaled like MASE. ConformalOffsets turns any
// forecaster into one with split-conformal 80% intervals from its own
// validation residuals. Labels (LoadLabels) are NAB's anomaly windows, by
// which the evaluation tells anomalous test targets apart.
//
// Forecasters: Persistence, SeasonalNaive (daily season from the cadence,
// SeasonFromCadence), MovingAverage, HoltWinters (additive seasonality, no
// trend; simple exponential smoothing when train holds under two seasons) and
// RidgeAR (direct ridge regression on the last 60 standardised values, one
// model per horizon). Standard returns the five with the protocol's settings.
package baseline
