// Package integration tunes the DWCP v3 components through their own
// setters: HDE (compression level, chunk size), PBA (prediction window,
// confidence threshold) and ACP (consensus timeout, batch size). The HDE v3
// engine and the PBA/ACP controllers import it directly; it never imports the
// performance model, only small interfaces (HDEPredictor, PBAPredictor,
// ACPPredictor) that a learned tuner or the model can satisfy.
//
// Data flow, per component and per telemetry interval:
//
//	telemetry (settings in effect, condition, measured metrics)
//	  -> Observe: running estimate of the metrics for that setting in that
//	     condition bucket (conditions within Options.BucketRatio share one)
//	  -> Decide:
//	     1. if the last interval followed a change and its measured score is
//	        worse than the old setting's by more than RollbackTolerance,
//	        restore the old setting (rollback) and cool down;
//	     2. otherwise predict every neighbour within MaxStep grid steps at the
//	        current condition by kernel-weighted local linear regression over
//	        condition buckets, and move to the best one if it beats the current
//	        setting by more than Hysteresis; if none does, try one unmeasured
//	        neighbour (exploration, guarded by the rollback);
//	  -> the engine's setters; a setter error restores what was already
//	     changed, keeps the old settings and is returned as *SetterError.
//
// Scores: each component has a target and an objective. Among settings
// predicted to meet the target the objective is minimised; a setting that
// misses it ranks behind every one that meets it, by how far it misses.
//
//	HDE: transfer latency <= target and CPU <= MaxCPU; fewest bytes on the wire.
//	PBA: loss rate <= MaxLossRate; least network delay per request.
//	ACP: commit latency <= budget and failed rounds <= MaxFailedRoundShare;
//	     least commit latency (a commit given up counts as the whole budget).
//
// PBA is tuned differently when its telemetry carries the bandwidth
// measurements PBA took: its pacing rate is a known function of those
// measurements and its two settings, so the tuner replays every setting on
// the same measurement history (pba_replay.go) and predicts each setting's
// delay from the replayed pacing (from its physical parts when PBA reports
// what it sends: transmission, queueing, backlog, retransmission timeouts),
// corrected by what the settings actually run measured, instead of trying
// settings one by one against bandwidth regimes that change faster than they
// can be compared. Its changes are judged after the interval that still
// carries the old setting's backlog, over several intervals.
//
// Planning on forecasts: by default a tuner plans reactively, for the
// condition it just measured. Given an Expectation before Decide (a
// forecaster's load and latency over the tuner's lookahead, reduced by
// Peak), it plans for the expected load instead, and scales every setting's
// predicted latency by how far the forecast latency exceeds what the learned
// response predicts for the settings in effect, so it moves before a rise
// rather than one interval after it. An Expectation lasts until the next
// Observe; the rollback still judges changes on what was measured. The PBA
// tuner's measurement replay ranks settings over the bandwidth history, which
// a load forecast does not change, so there it only steers the fallback
// learner.
//
// PredictOptimalHDESettings, PredictOptimalPBASettings and
// PredictOptimalACPSettings are the DWCP v3 design's
// predict_optimal_*_settings: a whole-grid search on a predictor's response,
// with no step limit; pass the forecast load to plan ahead. The subpackage
// sim is a deterministic DWCP simulator whose Cluster implements the three
// engines.
package integration
