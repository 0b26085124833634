// Package serve answers questions with a trained performance model: what
// comes next (Predictor), will a service level objective be breached and what
// to do about it (Service.PredictDegradation), and why the model says so
// (permutation importance, attention by time step, integrated gradients).
//
// Data flow:
//
//	recent metrics (Data, original units)
//	  -> Featurizer          the train command's features: features.Engineer,
//	                         standardised with the scaler fitted on the
//	                         history's training rows
//	  -> Window [T, F]       checked by feature name against the checkpoint
//	  -> Predictor           pooled workers, optional micro-batching, per-call
//	                         deadline; model panics, errors, NaN or a missed
//	                         deadline answer from a Fallback (Holt-Winters)
//	  -> Prediction          values in original units per metric and step,
//	                         attention [T], model version, Source
//	  -> Calibration         split-conformal residual paths from the
//	                         validation split: 10/50/90% intervals, raw
//	                         breach probabilities (share of whole paths
//	                         that breach), first likely breach
//	  -> ProbabilityMap      isotonic recalibration of the raw probability,
//	                         fitted on the validation origins cross-fitted
//	                         (each scored by the paths of origins whose
//	                         horizon does not overlap its own)
//	  -> Degradation         per metric and step, with recommendations
//
// Calibration can follow the metric: Service.Recalibrate swaps in the
// residual paths (and probability map) of recent outcomes, and
// Service.Backtest (with online set) rolls both forward at every step,
// causally; Backtest also gives the reliability
// table, the interval coverage and the threshold-on-forecast baseline, and
// Service.Accuracy the per-metric accuracy table. Service.Explain gives
// permutation importance, attention by lag and integrated gradients (by
// finite differences: the model exposes no input gradient).
//
// Targets follow the checkpoint's Target metadata (see ParseSpec): the train
// command's "value_delta" is the change of metric "value" from the window's
// last value for steps 1..Horizon, standardised by Model.Scaler; a
// comma-separated list names several metrics (K = metrics x steps, metric
// major). Checkpoints do not hold the input scaler, so a Featurizer is fitted
// on history the way the train command fits it (the first 70% of rows).
//
// Ensembles (Ensemble) combine several Predictors by mean, median or weights
// from validation error, answering with Source "ensemble".
package serve
