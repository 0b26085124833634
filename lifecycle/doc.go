// Package lifecycle runs a forecasting model in production: a crash-safe
// registry of model versions, the continuous-learning pipeline that retrains,
// validates and promotes them, and A/B tests between the Active version and a
// candidate. Subpackage perfmodel adapts the LSTM model (package perfpredict)
// to its interfaces; monitor (a sibling package) supplies the alerts whose
// actions call Pipeline.RequestRetrain.
//
// Data flow:
//
//	Source --(every 5 min)--> History (bounded, rolling)
//	History --(daily / weekly / on alert)--> Trainer --> candidate checkpoint
//	candidate and Active --> Evaluator on the same held-out recent data
//	  accuracy5 >= threshold and not worse than Active --> Registry.Promote
//	    (or, with Config.Shadow, a shadow ABTest on the next samples first)
//	  otherwise it stays Candidate, the reason recorded in the registry
//	Registry Active --> Loader --> Serving (atomic swap; serving never waits)
//	ABTest: shadow (paired) or split (stable key hash) comparison of errors,
//	  decided after MinSamples, outcome noted on the candidate's version
//
// The package does not import the model: it depends on small interfaces
// (Trainer, Loader, Forecaster, Evaluator, Source, Clock) that a thin adapter
// implements for the LSTM model, and tests implement with simple forecasters.
//
// Registry layout (one directory):
//
//	LOCK                         flock(2) target, serialises writers across processes
//	index.json                   the single source of truth, replaced atomically
//	versions/<model>/<version>/  model.ckpt (any file), manifest.json (immutable)
//	tmp/                         staging; leftovers of a crash are removed
//
// A version exists once index.json names it; its files are written, fsynced
// and renamed into place before the index is replaced, so a crash at any point
// leaves either the old or the new index and never an indexed version with
// missing data. Checksums (SHA-256) of the checkpoint and the manifest are
// checked before a version is served.
package lifecycle
