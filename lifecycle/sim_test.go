package lifecycle

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/monitor"
)

func loadNAB(t testing.TB, path string) []float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var v []float64
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		_, val, ok := strings.Cut(sc.Text(), ",")
		if !ok {
			t.Fatalf("%s: bad line %q", path, sc.Text())
		}
		x, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatal(err)
		}
		v = append(v, x)
	}
	return v
}

// fastTempDir is a temporary directory on tmpfs when there is one: the
// simulation is about decisions, not durability, and a hundred fsyncs on a
// shared disk would dominate its run time.
func fastTempDir(t *testing.T) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "perfpredict-sim-*"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}

// driftFeatures are the monitored inputs: the first difference and the
// standard deviation of the last hour's differences (the design's rolling
// statistics). The raw level is left out on purpose: a day's window of an
// autocorrelated level never matches a two-week reference, drift or not.
// driftWindow is a day of 5-minute samples.
const driftWindow = 288

var driftFeatures = []string{"diff1", "std12_diff"}

func driftRow(h []Sample) []float64 {
	n := len(h)
	if n < 13 {
		return nil
	}
	var d [12]float64
	mean := 0.0
	for k := range d {
		d[k] = h[n-1-k].Values[0] - h[n-2-k].Values[0]
		mean += d[k] / 12
	}
	ss := 0.0
	for _, x := range d {
		ss += (x - mean) * (x - mean)
	}
	return []float64{d[0], math.Sqrt(ss / 12)}
}

// TestSimulated30Days replays 30 days of NAB machine temperature (a stretch
// without labelled anomalies) at 5-minute steps in simulated time, through
// the pipeline with the forecaster's recipe (shrunk to train in a fraction
// of a second). Halfway a 30-minute oscillation of amplitude 7 is added:
// the Active forecaster, trained before, misses it; one retrained on data
// that includes it learns it.
func TestSimulated30Days(t *testing.T) {
	series := loadNAB(t, "../testdata/nab/realKnownCause/machine_temperature_system_failure.csv")
	const offset, steps, driftAt = 4353, 30 * 288, 15 * 288 // 2013-12-18 .. 2014-01-17
	if len(series) < offset+steps {
		t.Fatalf("series has %d rows", len(series))
	}
	data := make([]float64, steps)
	for i := range data {
		data[i] = series[offset+i]
		if i >= driftAt {
			data[i] += 7 * math.Sin(2*math.Pi*float64(i)/6)
		}
	}
	start := time.Date(2013, 12, 18, 0, 0, 0, 0, time.UTC)
	driftTime := start.Add(driftAt * 5 * time.Minute)
	clock := NewSimClock(start)
	reg, err := Create(fastTempDir(t))
	if err != nil {
		t.Fatal(err)
	}
	reg.SetClock(clock.Now)

	rules, err := monitor.ParseRules([]byte(monitor.DefaultRules), "default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mon := monitor.New(monitor.HealthConfig{Window: 24 * time.Hour, Slot: 5 * time.Minute, RateWindow: time.Hour}, nil, driftWindow, rules)
	mon.MinDriftRows = driftWindow / 2

	// The recipe shrunk: a 12-step window (the oscillation's period is 6)
	// and a small network, trained in about a fifth of a second.
	opts := forecast.DefaultOptions()
	opts.Window, opts.ScaleWindow, opts.Horizon = 12, 16, 4
	opts.Hidden, opts.Head, opts.Epochs, opts.Ensemble, opts.SwitchTrees = 16, []int{8}, 10, 1, nil
	opts.LearningRate = 1e-2

	next := 0
	src := SourceFunc(func(ctx context.Context, now time.Time) ([]Sample, error) {
		if next >= len(data) {
			return nil, nil
		}
		s := Sample{Time: now, Values: []float64{data[next]}}
		next++
		return []Sample{s}, nil
	})
	var timeline []string
	logf := func(at time.Time, format string, a ...any) {
		day := at.Sub(start).Hours() / 24
		timeline = append(timeline, fmt.Sprintf("day %5.2f %s", day, fmt.Sprintf(format, a...)))
	}
	var events []Event
	var p *Pipeline
	// The serving side: each sample scores the forecast made for it, then a
	// forecast for the next step is made (persistence as the fallback until
	// a version is served).
	var pending *float64
	firstSwap := true
	onCollect := func(s Sample) {
		if pending != nil {
			mon.Health.ObserveError(s.Time, *pending, s.Values[0])
		}
		hist := p.History.Tail(64)
		if row := driftRow(hist); row != nil && mon.Drift() != nil {
			mon.Drift().Observe(row)
		}
		t0 := time.Now()
		var fc float64
		fallback := true
		if f, _, err := p.Forecast(context.Background()); err == nil {
			fc, fallback = f.Points[0].Value, false
		}
		if fallback {
			fc = s.Values[0]
		}
		mon.Health.ObservePrediction(s.Time, time.Since(t0), fallback)
		pending = &fc
		mon.Evaluate(s.Time)
	}
	onSwap := func(sv *Served) {
		// The drift reference is the new version's training data.
		var rows [][]float64
		hist := p.History.Snapshot()
		for i := range hist {
			if hist[i].Time.Before(sv.Version.Data.From) || hist[i].Time.After(sv.Version.Data.To) {
				continue
			}
			if row := driftRow(hist[:i+1]); row != nil {
				rows = append(rows, row)
			}
		}
		ref, err := monitor.NewReference(driftFeatures, rows, 10)
		if err != nil {
			t.Errorf("reference: %v", err)
			return
		}
		if firstSwap {
			mon.SetDrift(monitor.NewDrift(ref, driftWindow))
			firstSwap = false
		} else {
			mon.Drift().SetReference(ref)
		}
	}
	type fired struct {
		name string
		at   time.Time
	}
	var alerts []fired
	mon.Engine.OnAlert(func(a monitor.Alert) {
		logf(a.At, "ALERT %s %s value %.3f (%s)", a.Rule.Name, a.State, a.Value, a.Rule.Condition)
		if a.State == monitor.Firing {
			alerts = append(alerts, fired{a.Rule.Name, a.At})
		}
	})
	for _, action := range []string{"retrain_model", "retrain_with_recent_data", "optimize_model"} {
		mon.Engine.OnAction(action, func(a monitor.Alert) { p.Act(a.Rule.Action, "alert "+a.Rule.Name) })
	}

	p, err = New(context.Background(), Config{
		Model: "machine_temperature", Registry: reg, Source: src, Train: &opts, Clock: clock,
		Holdout: 6 * time.Hour, MinHoldout: 36, RecentWindow: 3 * 24 * time.Hour, SyncTraining: true,
		// Eight days of history: retrains on all of it stay under a
		// second, and reach the drifted data sooner.
		HistoryLimit: 8 * 288,
		GC:           &GCPolicy{KeepDeprecated: 3, KeepCandidates: 50},
		OnEvent: func(e Event) {
			events = append(events, e)
			if e.Kind != "swap" {
				logf(e.Time, "%s %s %s", e.Kind, e.Version, e.Text)
			}
		},
		OnCollect: onCollect, OnSwap: onSwap,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < steps; i++ {
		p.Step(ctx)
		clock.Advance(5 * time.Minute)
	}
	for _, l := range timeline {
		t.Log(l)
	}

	// Alerts: none before the drift, drift and accuracy after it.
	var driftAlert, accAlert time.Time
	for _, a := range alerts {
		// (PredictionLatencyHigh reads wall-clock latencies of this
		// machine, so it is left out of the timing assertions.)
		if a.at.Before(driftTime) && a.name != "PredictionLatencyHigh" {
			t.Errorf("%s fired at %v, before the drift", a.name, a.at)
		}
		if a.name == "ModelDrift" && driftAlert.IsZero() {
			driftAlert = a.at
		}
		if a.name == "ModelAccuracyDrop" && accAlert.IsZero() {
			accAlert = a.at
		}
	}
	if driftAlert.IsZero() || driftAlert.Sub(driftTime) > 12*time.Hour {
		t.Errorf("ModelDrift fired at %v (drift at %v)", driftAlert, driftTime)
	}
	if accAlert.IsZero() || accAlert.Sub(driftTime) > 12*time.Hour {
		t.Errorf("ModelAccuracyDrop fired at %v (drift at %v)", accAlert, driftTime)
	}
	// Retraining: alert-driven retrains after the drift; a post-drift
	// candidate promoted; every version the gate let through met it.
	var alertRetrains, promotedAfter, rejected int
	for _, e := range events {
		if e.Kind == "retrain" && strings.HasPrefix(e.Text, "alert ") && !e.Time.Before(driftTime) {
			alertRetrains++
		}
		if e.Kind == "promoted" && e.Time.After(driftTime) {
			promotedAfter++
		}
		if e.Kind == "rejected" {
			rejected++
		}
		if e.Err != nil {
			t.Errorf("%s", e)
		}
	}
	if alertRetrains == 0 || promotedAfter == 0 {
		t.Errorf("after the drift: %d alert-driven retrains, %d promotions", alertRetrains, promotedAfter)
	}
	infos, err := reg.Verify("machine_temperature")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		for _, n := range in.Notes {
			if n.Kind == "validated" && (n.Values["candidate_accuracy5"] < 0.95 || n.Values["candidate_accuracy5"] < n.Values["active_accuracy5"]) {
				t.Errorf("%s passed the gate with %v", in.Version, n.Values)
			}
		}
		if in.Recipe == nil || in.Recipe.Window != opts.Window || in.Members != 1 {
			t.Errorf("%s: recipe %+v", in.Version, in.Recipe)
		}
	}
	active, err := reg.Active("machine_temperature")
	if err != nil {
		t.Fatal(err)
	}
	if !active.Data.To.After(driftTime) || active.Test.Accuracy5 < 0.95 {
		t.Errorf("Active %s trained to %v with held-out accuracy5 %.3f", active.Version, active.Data.To, active.Test.Accuracy5)
	}
	// The served model recovered: accuracy5 over the last 6 hours.
	snap := mon.Health.Snapshot(clock.Now())
	if snap.Accuracy5 < 0.95 {
		t.Errorf("served accuracy5 at the end %.3f", snap.Accuracy5)
	}
	t.Logf("end: Active %s (%d versions kept, %d candidates rejected), served accuracy5 %.3f, MAPE %.2f%%, fallback %.3f, p99 %.1fus",
		active.Version, len(infos), rejected, snap.Accuracy5, snap.MAPE, snap.FallbackRate, snap.LatencyP99*1e6)
}
