// Package source reads metric series from a Prometheus server, as
// baseline.Series, the type every forecasting command and forecast.Train
// take; files are read by package baseline.
//
// Data flow: Prometheus.Load sends the PromQL query to the server's
// /api/v1/query_range in chunks of at most MaxPoints steps (the server
// refuses longer ranges), joins the chunks series by series, and lays every
// series on one grid: Start, Start+Step, ... up to End, trimmed to the steps
// at which some series has a value. Each series is named by its labels in
// Prometheus's text form (cpu{instance="a", job="b"}), series in name order.
// Last fetches the most recent points of one series so named, which is what
// a service forecasting "the series NAME" needs.
//
// # Rules, the same as for a CSV file
//
// A forecasting command needs every step (PROTOCOL.md: none dropped or
// filled), so:
//
//   - a step at which a series has no value inside the trimmed grid is a
//     gap, the missing value of a CSV cell: Load fails naming the series and
//     the time, and wraps baseline.ErrBadInput. A step has a value only when
//     a sample of the series lies within the step before it: Prometheus
//     would answer a missed scrape with the previous sample (its lookback,
//     5 minutes by default), which would fill a row, so Load asks for
//     (Q) and (timestamp(Q) > time() - step). A step finer than the
//     series' cadence therefore fails on its first gap. After a stale
//     marker (a target that went away) Prometheus answers no value, so that
//     is a gap too; the API never returns the marker itself. A function
//     such as rate(x[5m]) has a value at every step its window covers.
//   - several series must cover the same steps: one starting later or
//     stopping earlier than the others is a gap in it (a matrix of
//     mismatched series is an error, as a CSV row with an empty cell is).
//   - a NaN or infinite value (e.g. 0/0 in the query) is an error, as in a
//     CSV file.
//   - counter resets are not undone: the values are what the query
//     evaluates to. Query rate(x[5m]) or increase(...) to forecast a
//     counter; a raw counter drops at a reset, exactly as a file holding the
//     same counter does.
//   - a query that returns no series, a scalar or string result, a native
//     histogram, or a bad time range is an error wrapping
//     baseline.ErrBadInput; an unreachable server or a server error is not
//     (it is not the input's fault).
package source
