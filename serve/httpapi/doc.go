// Package httpapi serves a forecaster over HTTP with a small JSON API: an
// http.Handler that `perfpredict serve` and `perfpredict run` listen with,
// and that another server can mount under its own mux.
//
// Routes:
//
//	POST /v1/forecast     {"values": [...], "times": [...]} or {"series": NAME}
//	                      -> serve.ForecastAnswer (what `perfpredict predict --json` prints)
//	POST /v1/degradation  {"times": [...], "metrics": [{"name", "values"}], "horizon", "slo", "switch", ...}
//	                      -> serve.Degradation (what `perfpredict degradation --json` prints)
//	GET  /v1/models       the served version and recipe; with a registry its versions and the Active one
//	GET  /metrics         Prometheus exposition: requests by route and code, latency,
//	                      fallbacks, reloads, the monitor's health, drift, alerts and model version
//	GET  /healthz         200 while the process answers; /readyz 200 once a model is loaded
//
// Data flow:
//
//	request body (at most Options.MaxBody bytes) -> decoded, checked (400, 413, 422)
//	  -> a slot among Options.MaxInFlight (waiting in a bounded queue, else 503)
//	  -> the current model (an atomic pointer; reference counted, so a swap
//	     never fails a request: the old model is closed when its last
//	     request ends) -> serve.Predictor -> serve.ForecastAnswer
//	With Options.Switch, a {"series": NAME} request the model answered is
//	answered instead by the series' serve.Follower (a forecast.Switch kept
//	per series and per model, fitted on Options.SwitchHistory points at
//	the series' first request and fed the points each later one fetches).
//	Handler.Follow polls a lifecycle.Registry: a new Active version is
//	loaded (checksums verified), smoke tested and swapped in; a version
//	that fails either is refused and the current one keeps serving.
//
// Serve runs a handler on a listener until its context ends, then shuts
// down gracefully: in-flight requests finish.
package httpapi
