// Package serve answers questions with a trained forecaster (package
// forecast): what comes next (Predictor), will a service level objective
// be breached and what to do about it (Service.PredictDegradation), and
// why the forecaster says so (Service.Explain: permutation importance,
// attention by time, integrated gradients).
//
// Data flow:
//
//	forecaster.zip --forecast.Open--> *forecast.Forecaster
//	metrics as []baseline.Series in original units: one series per
//	  metric, named by it, all at the same times (a series that is not is
//	  bad input naming it); baseline.LoadColumns reads a file's columns
//	  so. NewService fits the fallback and the thresholds on a history;
//	  ServiceOptions.Name names its source in errors and hints the
//	  recommendations; each call forecasts from recent rows' last one
//	  -> Predictor      pooled workers, micro-batching, per-call deadline;
//	                    model panics, errors, NaN or a missed deadline
//	                    answer from a Fallback (Holt-Winters), and say so
//	  -> Prediction     the forecaster's Forecast (p10/p50/p90 per
//	                    horizon, attention), version, Source
//	  -> Degradation    per metric and step: the interval, the probability
//	                    of being out of the SLO, the probability of a
//	                    breach within the horizon, the first likely breach
//	                    and recommendations with their evidence
//	  -> ProbabilityMap the probability of a breach within the horizon
//	                    recalibrated on recent outcomes (Recalibrate:
//	                    isotonic, shrunk toward the raw value)
//
// What is served is what is scored: a model answer equals the forecaster's
// Forecast of the same history (forecast.Evaluate scores exactly that), so
// it depends only on the last Needs() rows of each series. Service.Backtest
// scores the degradation probabilities and intervals against what
// happened. With ServiceOptions.Switch a metric is answered instead by a
// forecast.Switch (evaluate's switch row) fitted on the history and fed
// the rows each call brings after the last it saw; such an answer depends
// on every row the service has seen, and Prediction.Method says "switch".
// A Follower is that switch for one series, for a server that follows
// series by name (serve/httpapi with Options.Switch).
package serve
