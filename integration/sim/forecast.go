package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/integration"
)

// Forecasting gives the tuners forecasts of their telemetry to plan on:
// before each decision, the load and each component's latency are forecast
// from the telemetry so far, and each tuner receives an
// integration.Expectation (the peak over Lookahead steps of the p50, or of
// the p90 with Upper): HDE the arrival rate and its transfer latency, ACP
// the arrival rate and its commit latency, PBA the offered Mbps and its
// network delay.
type Forecasting struct {
	Forecaster *forecast.Forecaster
	// Lookahead is the number of steps an expectation covers (at most the
	// forecaster's horizon); 0 means DefaultLookahead.
	Lookahead int
	// Upper plans on the p90 instead of the p50.
	Upper bool
	// From is the first interval (IntervalStats.Index) forecasts are made
	// after; before it the tuners plan reactively.
	From int

	hist      [][]float64 // per forecastSeries, the recent telemetry
	forecasts int
}

// DefaultLookahead is the steps an expectation covers by default: the
// tuners decide again after every interval, so the settings chosen now run
// for the next one only. A longer lookahead starts moving earlier, for
// rises further away than the step limit (Options.MaxStep) can otherwise
// reach in time, at the cost of running settings meant for a later load.
const DefaultLookahead = 1

// forecastSeries are the telemetry columns forecast for the tuners.
var forecastSeries = []string{"arrival_rps", "transfer_ms", "consensus_ms", "offered_mbps", "network_ms"}

// Forecasts is how many intervals the tuners were given forecasts after.
func (f *Forecasting) Forecasts() int { return f.forecasts }

// record appends an interval's telemetry to the histories the forecasts
// read, keeping what the forecaster needs.
func (f *Forecasting) record(st IntervalStats) {
	if f.hist == nil {
		f.hist = make([][]float64, len(forecastSeries))
	}
	keep := f.Forecaster.Needs()
	for i, name := range forecastSeries {
		v, _ := telemetryValue(st, name)
		h := append(f.hist[i], v)
		if len(h) > 2*keep {
			h = append(h[:0], h[len(h)-keep:]...)
		}
		f.hist[i] = h
	}
}

// expectations forecasts the next steps after st; ok is false before From
// or while the history is shorter than the forecaster needs.
func (f *Forecasting) expectations(ctx context.Context, st IntervalStats) (hde, acp, pba integration.Expectation, ok bool, err error) {
	if st.Index < f.From || len(f.hist[0]) < f.Forecaster.Needs() {
		return hde, acp, pba, false, nil
	}
	fcs, err := f.Forecaster.ForecastBatch(ctx, f.hist)
	if err != nil {
		return hde, acp, pba, false, fmt.Errorf("forecast: %w", err)
	}
	look := f.Lookahead
	if look <= 0 {
		look = DefaultLookahead
	}
	peak := make([]float64, len(fcs))
	for i, fc := range fcs {
		v := make([]float64, len(fc.Points))
		for k, p := range fc.Points {
			v[k] = p.P50
			if f.Upper {
				v[k] = p.P90
			}
		}
		peak[i] = integration.Peak(v, look)
	}
	f.forecasts++
	return integration.Expectation{Load: peak[0], LatencyMs: peak[1]},
		integration.Expectation{Load: peak[0], LatencyMs: peak[2]},
		integration.Expectation{Load: peak[3], LatencyMs: peak[4]}, true, nil
}

// ForecastSetup is how RunThree trains the forecaster and plans on it.
type ForecastSetup struct {
	// Split is the share of the trace (0 < Split < 1) whose telemetry
	// trains the forecaster; the runs are reported on the rest. 0 means 0.5.
	Split float64
	// Options train the forecaster (see SimForecastOptions).
	Options forecast.Options
	// Lookahead and Upper as in Forecasting.
	Lookahead int
	Upper     bool
}

// SimForecastOptions is the small recipe `perfpredict simulate` trains in a
// few seconds on two cores: a 24-step window with its unit over 48 steps,
// horizon 6, one BiLSTM of 8 hidden units per direction with a 16-unit
// head, at most 8 epochs (patience 3), one network, and no switch trees
// (the simulation serves the model's forecasts). The shipped recipe
// (forecast.DefaultOptions) would take minutes.
func SimForecastOptions() forecast.Options {
	o := forecast.DefaultOptions()
	o.Window, o.ScaleWindow, o.Horizon = 24, 48, 6
	o.Inputs = []forecast.Input{{Name: forecast.InputRelLast, Clip: 30}, {Name: forecast.InputDiff, Clip: 30}}
	o.Hidden, o.Head = 8, []int{16}
	o.Epochs, o.Patience, o.Ensemble, o.SwitchTrees = 8, 3, 1, nil
	return o
}

// PhaseMetrics summarise a run over the intervals of one phase of the load.
type PhaseMetrics struct {
	Intervals    int     `json:"intervals"`
	LatencyAvgMs float64 `json:"latency_avg_ms"` // over successful requests
	ErrorRate    float64 `json:"error_rate"`
}

// Runs are three runs of one trace and seed, reported over the intervals
// after the split: static default settings, tuners planning on the
// telemetry just measured (reactive), and tuners planning on forecasts
// (forecast). Phases break each run down by the load's phase: "peak" (the
// top tenth of the trace's rates), "ramp" (other intervals at least 25%
// above the mean of the three before) and "calm" (the rest).
type Runs struct {
	Static   Metrics `json:"static"`
	Reactive Metrics `json:"reactive"`
	Forecast Metrics `json:"forecast"`
	// Phases[run][phase]; run is static, reactive or forecast.
	Phases map[string]map[string]PhaseMetrics `json:"phases"`
	// Split is the first interval reported, Intervals the trace's length.
	Split     int `json:"split"`
	Intervals int `json:"intervals"`
}

// ThreeRuns is what RunThree measured, with what the command prints.
type ThreeRuns struct {
	Runs
	// ReactiveTuners and ForecastTuners are the two tuned runs' tuners
	// (ForecastTuners.Forecasting says how many forecasts they received).
	ReactiveTuners, ForecastTuners *Tuners
	// Forecaster is the forecaster trained on the static run's telemetry
	// before the split.
	Forecaster *forecast.Forecaster
	// Telemetry is the static run's, over the whole trace.
	Telemetry []IntervalStats
}

// RunThree runs rps three times on identically seeded clusters: static
// settings, reactive tuners, and tuners planning on a forecaster trained
// (forecast.Train with setup.Options) on the static run's telemetry before
// the split. Every run simulates the whole trace, so the tuners have
// learned the same way when the forecasts start (the two tuned runs are
// identical up to the split); the figures cover the rest.
func RunThree(ctx context.Context, rps []float64, cfg Config, targets Targets, opts integration.Options, setup ForecastSetup) (ThreeRuns, error) {
	split := setup.Split
	if split == 0 {
		split = 0.5
	}
	if !(split > 0 && split < 1) {
		return ThreeRuns{}, fmt.Errorf("sim: forecast setup: split %v: must be in (0, 1)", split)
	}
	from := int(math.Round(split * float64(len(rps))))
	if from < 1 || from >= len(rps) {
		return ThreeRuns{}, fmt.Errorf("sim: %d intervals leave none on one side of the split %v", len(rps), split)
	}
	out := ThreeRuns{Runs: Runs{Split: from, Intervals: len(rps), Phases: map[string]map[string]PhaseMetrics{}}}
	phase := phases(rps)
	run := func(name string, ctrl Controller, c *Cluster) (Metrics, []IntervalStats, error) {
		m, stats, err := c.runSplit(ctx, rps, ctrl, from)
		if err != nil {
			return m, nil, fmt.Errorf("sim: %s run: %w", name, err)
		}
		out.Phases[name] = phaseMetrics(stats[from:], phase[from:])
		return m, stats, nil
	}

	static, err := NewCluster(cfg)
	if err != nil {
		return ThreeRuns{}, err
	}
	if out.Static, out.Telemetry, err = run("static", nil, static); err != nil {
		return ThreeRuns{}, err
	}
	train, err := TelemetrySeries(out.Telemetry[:from], forecastSeries...)
	if err != nil {
		return ThreeRuns{}, err
	}
	if out.Forecaster, err = forecast.Train(ctx, train, setup.Options); err != nil {
		return ThreeRuns{}, fmt.Errorf("sim: training the forecaster on the %d intervals before the split: %w", from, err)
	}

	for _, name := range []string{"reactive", "forecast"} {
		c, err := NewCluster(cfg)
		if err != nil {
			return ThreeRuns{}, err
		}
		tu, err := NewTuners(c, targets, opts)
		if err != nil {
			return ThreeRuns{}, err
		}
		m := &out.Reactive
		if name == "reactive" {
			out.ReactiveTuners = tu
		} else {
			tu.Forecasting = &Forecasting{Forecaster: out.Forecaster, Lookahead: setup.Lookahead, Upper: setup.Upper, From: from - 1}
			m, out.ForecastTuners = &out.Forecast, tu
		}
		if *m, _, err = run(name, tu, c); err != nil {
			return ThreeRuns{}, err
		}
	}
	return out, nil
}

// runSplit is Run with the summary restarted at interval from (never when
// from is negative).
func (c *Cluster) runSplit(ctx context.Context, rps []float64, ctrl Controller, from int) (Metrics, []IntervalStats, error) {
	if len(rps) == 0 {
		return Metrics{}, nil, errors.New("sim: empty trace")
	}
	stats := make([]IntervalStats, 0, len(rps))
	for i, r := range rps {
		if err := ctx.Err(); err != nil {
			return Metrics{}, stats, err
		}
		if i == from {
			c.resetSummary()
		}
		st, err := c.Step(r)
		if err != nil {
			return Metrics{}, stats, err
		}
		stats = append(stats, st)
		if ctrl != nil {
			if err := ctrl.AfterInterval(ctx, c, st); err != nil {
				return Metrics{}, stats, fmt.Errorf("sim: interval %d: controller: %w", st.Index, err)
			}
		}
	}
	return c.Summary(), stats, nil
}

// phases labels each interval peak, ramp or calm (see Runs).
func phases(rps []float64) []string {
	s := slices.Clone(rps)
	sort.Float64s(s)
	p90 := s[int(0.9*float64(len(s)-1))]
	out := make([]string, len(rps))
	for i, r := range rps {
		switch {
		case r >= p90:
			out[i] = "peak"
		case i >= 3 && r >= 1.25*(rps[i-1]+rps[i-2]+rps[i-3])/3:
			out[i] = "ramp"
		default:
			out[i] = "calm"
		}
	}
	return out
}

func phaseMetrics(stats []IntervalStats, phase []string) map[string]PhaseMetrics {
	type acc struct{ n, ok, arrivals, errors, lat float64 }
	sums := map[string]*acc{"peak": {}, "ramp": {}, "calm": {}}
	for i, st := range stats {
		a := sums[phase[i]]
		ok := float64(st.Requests - st.Errors)
		a.n++
		a.ok += ok
		a.lat += st.LatencyMs * ok
		a.arrivals += float64(st.Requests)
		a.errors += float64(st.Errors)
	}
	out := map[string]PhaseMetrics{}
	for k, a := range sums {
		m := PhaseMetrics{Intervals: int(a.n)}
		if a.ok > 0 {
			m.LatencyAvgMs = a.lat / a.ok
		}
		if a.arrivals > 0 {
			m.ErrorRate = a.errors / a.arrivals
		}
		out[k] = m
	}
	return out
}
