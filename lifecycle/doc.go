// Package lifecycle runs a forecaster in production: a crash-safe registry
// whose versions are forecaster artifacts (package forecast), the
// continuous-learning pipeline that retrains them with the recipe
// `perfpredict train` ships, validates and promotes them, and A/B tests
// between the Active version's forecaster and a candidate's. monitor (a
// sibling package) supplies the alerts whose actions call Pipeline.Act.
//
// Data flow:
//
//	Source --(every 5 min)--> History (bounded, rolling)
//	History --(daily / weekly / on alert)--> forecast.Train (Config.Train) --> candidate
//	candidate and Active forecast the same held-out recent data
//	  accuracy5 >= threshold and not worse than Active --> Registry.Promote
//	    (or, with Config.Shadow, a shadow ABTest on the next samples first)
//	  otherwise it stays Candidate, the reason recorded in the registry
//	Registry Active --> LoadActive --> Serving (atomic swap; serving never waits)
//	Pipeline.Forecast: the served forecaster on the newest samples (with
//	  Config.Switch, the switch that follows the target for it: what the
//	  held-out gate then scores)
//	ABTest: shadow (paired) or split (stable key hash) comparison of errors,
//	  decided after MinSamples, outcome noted on the candidate's version
//
// Registry layout (one directory):
//
//	LOCK                         flock(2) target, serialises writers across processes
//	index.json                   the single source of truth, replaced atomically
//	versions/<model>/<version>/  forecaster.zip (the artifact), manifest.json (immutable)
//	tmp/                         staging; leftovers of a crash are removed
//
// A version exists once index.json names it; its files are written, fsynced
// and renamed into place before the index is replaced, so a crash at any point
// leaves either the old or the new index and never an indexed version with
// missing data. Checksums (SHA-256) of the artifact and the manifest are
// checked before a version is served, and the bytes served are the bytes
// checked. Open never creates a registry (a mistyped path is an error);
// Create does.
package lifecycle
