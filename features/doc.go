// Package features turns raw performance metrics into the tensors the model
// trains on, without ever letting a feature see the future.
//
// Data flows through five steps, each its own file:
//
//	Load / Read        JSON, NDJSON or CSV  -> *Table    (load.go, table.go)
//	Resample           *Table               -> *Grid     (grid.go)
//	Engineer           *Grid                -> *Frame    (engineer.go, rolling.go, domain.go)
//	FitScaler          *Frame train rows    -> *Scaler   (scaler.go)
//	NewWindows / Split *Frame               -> X [N,T,F], Y [N,K] (windows.go)
//
// Prepare (prepare.go) runs them all, from a metrics file to the windows a
// model trains on.
//
// Everything is UTC; timestamps are int64 unix nanoseconds. Statistics are
// computed in float64; the engineered matrix is float32, row-major [rows, F],
// because that is what the model consumes and a window is then one contiguous
// slab of it. The package does not import the model: the model takes plain
// slices.
//
// Engineer is one pass over the grid. Each rolling window costs O(log w) per
// sample, amortised (w: the metric's longest window in samples), and nothing
// is allocated after set-up: moments come from running sums, order
// statistics (min, max, p50, p95, p99) from a bitset over the ranks of the
// values with a Fenwick tree over its words, each value being sorted once
// for all the metric's windows (rolling.go).
//
// # Causality
//
// A feature at grid time t is computed from grid values at or before t only.
// Resample assigns an observation to the first grid point at or after it
// (right-closed bins), and interpolates a short gap only between two
// observations, so changing observations after a grid time t whose point was
// observed changes no feature row at or before t (TestNoLookAhead checks this
// bit for bit). Points interpolated inside a short gap depend on the
// observation that closes it, so online they are known only then.
//
// # Column names
//
// Frame.Names follows one scheme, in this order:
//
//	hour, dow, weekend, hour_sin, hour_cos, dow_sin, dow_cos   temporal (UTC; dow 0 = Monday; hour_sin/cos
//	                                                            from the time of day to the second)
//	gap                                                         1 on the first row after a long gap
//	<m>                                                         the metric's value
//	<m>_roll_<stat>_<win>   stat in mean,std,min,max,p50,p95,p99,skew,kurt; win like 5m, 15m, 30m
//	<m>_lag_<k>, <m>_diff_<k>, <m>_pct_<k>                      k in 1,5,10,30 (samples)
//	domain columns (see domain.go): hde_compression_ratio, pba_prediction_accuracy,
//	acp_consensus_time_ms_mean, network_io_bytes_rate, network_rx_share, <m>_trend_<win>
//
// for every metric m in name order. A counter (a metric named *_total) is
// replaced by its per-second rate <base>_rate before the per-metric columns
// are built, counter resets handled.
package features
