// Package monitor watches a served forecasting model: health metrics, input
// drift and alert rules.
//
// Data flow:
//
//	each prediction       -> Health.ObservePrediction (latency, fallback)
//	each actual arriving  -> Health.ObserveError      (rolling MAPE, accuracy5, daily MAPE)
//	each feature row      -> Drift.Observe            (rolling window vs the training Reference)
//	Snapshot(now)          -> named metric values (accuracy, mape, inference_time, ...)
//	Engine.Evaluate       -> rules from YAML (an `alerts:` list, see ParseRules) with
//	                         `for:` durations -> alert callbacks and actions
//	                         (retrain_model, optimize_model, retrain_with_recent_data)
//
// Monitor bundles the three. The package has no model dependency: anything
// that predicts numbers can be watched. monitor/prom exposes the same figures
// to Prometheus, so only its importers pull in the client library.
package monitor
