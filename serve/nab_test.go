package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
)

// nabWindow is a labelled anomaly window.
type nabWindow struct{ start, end time.Time }

func loadNABWindows(t testing.TB, dir string) map[string][]nabWindow {
	b, err := os.ReadFile(filepath.Join(dir, "combined_windows.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string][][2]string
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string][]nabWindow{}
	for k, ws := range raw {
		for _, w := range ws {
			s, err1 := time.Parse("2006-01-02 15:04:05.000000", w[0])
			e, err2 := time.Parse("2006-01-02 15:04:05.000000", w[1])
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: window %v", k, w)
			}
			out[k] = append(out[k], nabWindow{s, e})
		}
	}
	return out
}

// nabScore scores alarms (one flag per origin) against windows: a window
// is detected when an alarm falls in [start - horizon, start] (lead time:
// start minus the first such alarm), caught when an alarm falls anywhere in
// [start - horizon, end]; an alarm event (a run of consecutive alarmed
// origins) is false when none of its origins lies in any [start - horizon,
// end].
type nabScore struct {
	windows, detected, caught int
	lead                      []float64 // minutes, per detected window
	events, falseEvents       int
}

func scoreAlarms(times []time.Time, alarm []bool, ws []nabWindow, horizon time.Duration) nabScore {
	var s nabScore
	first, last := times[0], times[len(times)-1]
	for _, w := range ws {
		if w.start.Before(first) || w.start.After(last) {
			continue // its start is not in the scored period
		}
		s.windows++
		det, caught := false, false
		for i, tm := range times {
			if !alarm[i] {
				continue
			}
			if !tm.Before(w.start.Add(-horizon)) && !tm.After(w.start) && !det {
				det = true
				s.lead = append(s.lead, w.start.Sub(tm).Minutes())
			}
			if !tm.Before(w.start.Add(-horizon)) && !tm.After(w.end) {
				caught = true
			}
		}
		if det {
			s.detected++
		}
		if caught {
			s.caught++
		}
	}
	inAny := func(tm time.Time) bool {
		for _, w := range ws {
			if !tm.Before(w.start.Add(-horizon)) && !tm.After(w.end) {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(alarm); {
		if !alarm[i] {
			i++
			continue
		}
		j, ok := i, false
		for ; j < len(alarm) && alarm[j]; j++ {
			ok = ok || inAny(times[j])
		}
		s.events++
		if !ok {
			s.falseEvents++
		}
		i = j
	}
	return s
}

func (s *nabScore) add(o nabScore) {
	s.windows += o.windows
	s.detected += o.detected
	s.caught += o.caught
	s.lead = append(s.lead, o.lead...)
	s.events += o.events
	s.falseEvents += o.falseEvents
}

func (s nabScore) String() string {
	lead := math.NaN()
	if len(s.lead) > 0 {
		l := append([]float64(nil), s.lead...)
		sort.Float64s(l)
		lead = l[len(l)/2]
	}
	prec := math.NaN()
	if s.events > 0 {
		prec = float64(s.events-s.falseEvents) / float64(s.events)
	}
	return fmt.Sprintf("recall %d/%d (before or at start), %d/%d (by the window's end), median lead %.0f min, alarm events %d, false %d, precision %.2f",
		s.detected, s.windows, s.caught, s.windows, lead, s.events, s.falseEvents, prec)
}

// TestNABDegradation runs the degradation forecaster over the test period
// of every NAB series in testdata (realKnownCause and realAWSCloudwatch)
// against the labelled anomaly windows, next to two baselines: the model's
// point forecast crossing the threshold (threshold on forecast) and the
// current value crossing it (a reactive alert). It trains one small model
// per series, so it runs only with PERFPREDICT_NAB=1 (about a minute per
// series on a loaded two-core machine):
//
//	PERFPREDICT_NAB=1 go test ./serve -run NAB -v -timeout 60m
func TestNABDegradation(t *testing.T) {
	if os.Getenv("PERFPREDICT_NAB") == "" {
		t.Skip("set PERFPREDICT_NAB=1 to run the NAB evaluation")
	}
	dir := filepath.Join("..", "testdata", "nab")
	windows := loadNABWindows(t, dir)
	const horizon = 30
	var files []string
	for _, sub := range []string{"realKnownCause", "realAWSCloudwatch"} {
		m, _ := filepath.Glob(filepath.Join(dir, sub, "*.csv"))
		files = append(files, m...)
	}
	cfg := perfpredict.Config{Hidden: 16, Layers: 1, Head: []int{32}, Dropout: -1, Steps: 60, BatchSize: 64,
		LearningRate: 2e-3, Epochs: 6, Patience: 2, Seed: 1}
	// Per calibration mode (static: validation residuals only; online:
	// rolling forward as outcomes arrive).
	type tally struct {
		prob, raw, hyst, point, reactive, hwProb, hwPoint nabScore
		covered, coverN                                   float64
		p, rawP, hwP                                      []float64
		e                                                 []bool
	}
	var modes [4]tally
	var dump *os.File
	if p := os.Getenv("PERFPREDICT_NAB_DUMP"); p != "" {
		var err error
		if dump, err = os.Create(p); err != nil {
			t.Fatal(err)
		}
		defer dump.Close()
	}
	modeName := []string{"static", "online", "static, normalised", "online, normalised"}
	for _, f := range files {
		key := filepath.ToSlash(strings.TrimPrefix(f, dir+string(filepath.Separator)))
		s, err := baseline.LoadCSV(f, "")
		if err != nil {
			t.Fatal(err)
		}
		d := FromSeries(s, "value")
		fz, err := FitProtocol(d, nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		m, err := nabModel(d, fz, cfg, horizon, key)
		if err != nil {
			t.Fatal(err)
		}
		sp := baseline.SplitOf(d.Len())
		for mode := range modes {
			if ms := os.Getenv("PERFPREDICT_NAB_MODES"); ms != "" && !strings.Contains(ms, fmt.Sprint(mode)) {
				continue
			}
			online, normalize := mode%2 == 1, mode >= 2
			opt := ServiceOptions{Normalize: normalize}
			if os.Getenv("PERFPREDICT_NAB_OLD_THRESHOLD") != "" {
				// The default bound before saturation was handled: the p99
				// of training even where it is the maximum.
				v := append([]float64(nil), d.Values[0][:sp.Train]...)
				sort.Float64s(v)
				b := v[int(math.Ceil(0.99*float64(len(v))))-1]
				opt.Thresholds = []Threshold{{Metric: "value", Above: &b}}
			}
			svc, err := NewService(context.Background(), m, d, opt)
			if err != nil {
				t.Fatal(err)
			}
			bt, err := svc.Backtest(context.Background(), d, sp.TestStart(), d.Len(), horizon, online)
			if err != nil {
				t.Fatal(err)
			}
			alarm := make([]bool, len(bt.Origins))
			rawAlarm := make([]bool, len(bt.Origins))
			hyAlarm := hysteresis(bt.Probability, 0.5, 0.3)
			react := make([]bool, len(bt.Origins))
			hwAlarm := make([]bool, len(bt.Origins))
			for i, o := range bt.Origins {
				alarm[i] = bt.Probability[i] > 0.5
				rawAlarm[i] = bt.RawProbability[i] > 0.5
				hwAlarm[i] = bt.FallbackProbability[i] > 0.5
				react[i] = svc.Thresholds[0].breached(d.Values[0][o])
			}
			step := time.Duration(horizon) * svc.Cadence
			ps, pt, rs := scoreAlarms(bt.Times, alarm, windows[key], step), scoreAlarms(bt.Times, bt.Point, windows[key], step),
				scoreAlarms(bt.Times, react, windows[key], step)
			hs, ht := scoreAlarms(bt.Times, hwAlarm, windows[key], step), scoreAlarms(bt.Times, bt.FallbackPoint, windows[key], step)
			a := &modes[mode]
			a.prob.add(ps)
			a.raw.add(scoreAlarms(bt.Times, rawAlarm, windows[key], step))
			a.hyst.add(scoreAlarms(bt.Times, hyAlarm, windows[key], step))
			a.point.add(pt)
			a.reactive.add(rs)
			a.hwProb.add(hs)
			a.hwPoint.add(ht)
			a.covered += bt.CoverageAll * float64(len(bt.Origins))
			a.coverN += float64(len(bt.Origins))
			a.p = append(a.p, bt.Probability...)
			a.rawP = append(a.rawP, bt.RawProbability...)
			a.hwP = append(a.hwP, bt.FallbackProbability...)
			a.e = append(a.e, bt.Event...)
			if dump != nil {
				for i, o := range bt.Origins {
					fmax := math.Inf(-1)
					for h := 1; h <= horizon; h++ {
						fmax = math.Max(fmax, bt.forecast[i][h-1])
					}
					fmt.Fprintf(dump, "%s,%d,%d,%g,%g,%t,%g,%t,%g,%g,%g\n", key, mode, o, bt.Probability[i], bt.RawProbability[i], bt.Event[i], bt.FallbackProbability[i], bt.Point[i], *svc.Thresholds[0].Above, d.Values[0][o], fmax)
				}
			}
			svc.Close()
			t.Logf("%s %s (%v): threshold %.4g, validation breach rate %.3f, test %.3f, coverage %.3f, Brier %.4f (raw %.4f), fallback %d\n  probability>0.5: %v\n  point forecast:  %v\n  reactive:        %v\n  Holt-Winters p>0.5: %v",
				key, modeName[mode], time.Since(start).Round(time.Second), *svc.Thresholds[0].Above, float64(svc.Calibration().ModelMap.Events)/float64(svc.Calibration().ModelMap.N), rate(bt.Event), bt.CoverageAll, bt.Brier, bt.RawBrier, bt.FallbackUsed, ps, pt, rs, hs)
		}
	}
	for mode, a := range modes {
		if a.coverN == 0 {
			continue
		}
		t.Logf("=== calibration: %s", modeName[mode])
		t.Logf("ALL model probability>0.5:        %v", a.prob)
		t.Logf("ALL model raw probability>0.5:    %v", a.raw)
		t.Logf("ALL model p>0.5 until p<0.3:      %v", a.hyst)
		t.Logf("ALL model point forecast:         %v", a.point)
		t.Logf("ALL reactive (value > threshold): %v", a.reactive)
		t.Logf("ALL Holt-Winters probability>0.5: %v", a.hwProb)
		t.Logf("ALL Holt-Winters point forecast:  %v", a.hwPoint)
		rel, raw, hw := Reliability(a.p, a.e, 10), Reliability(a.rawP, a.e, 10), Reliability(a.hwP, a.e, 10)
		t.Logf("ALL 80%% interval coverage %.3f over %.0f origins, base rate %.3f", a.covered/a.coverN, a.coverN, rate(a.e))
		t.Logf("ALL Brier %.4f recalibrated, %.4f raw, Holt-Winters %.4f (recalibrated); ECE %.4f recalibrated, %.4f raw, Holt-Winters %.4f",
			BrierScore(a.p, a.e), BrierScore(a.rawP, a.e), BrierScore(a.hwP, a.e), ECE(rel), ECE(raw), ECE(hw))
		t.Log("  reliability of the breach probability: model recalibrated | model raw | Holt-Winters recalibrated")
		for i, b := range rel {
			t.Logf("  [%.1f, %.1f) n=%5d p %.3f obs %.3f | n=%5d p %.3f obs %.3f | n=%5d p %.3f obs %.3f", b.Lo, b.Hi,
				b.N, b.MeanProb, b.Observed, raw[i].N, raw[i].MeanProb, raw[i].Observed, hw[i].N, hw[i].MeanProb, hw[i].Observed)
		}
	}
}

func rate(e []bool) float64 {
	n := 0
	for _, v := range e {
		if v {
			n++
		}
	}
	return float64(n) / float64(len(e))
}

// nabModel trains the series' model, or loads it from
// $PERFPREDICT_NAB_CACHE when an earlier run saved it there (the training
// is deterministic; the cache only saves time when iterating on
// calibration).
func nabModel(d *Data, fz Featurizer, cfg perfpredict.Config, horizon int, key string) (*perfpredict.Model, error) {
	dir := os.Getenv("PERFPREDICT_NAB_CACHE")
	path := filepath.Join(dir, strings.NewReplacer("/", "_", ".csv", ".safetensors").Replace(key))
	if dir != "" {
		if m, err := perfpredict.Load(path); err == nil {
			return m, nil
		}
	}
	m, _, err := Train(context.Background(), d, fz, TrainOptions{Config: cfg, Horizon: horizon, Stride: 2})
	if err == nil && dir != "" {
		err = m.Save(path)
	}
	return m, err
}

// hysteresis raises an alarm when p exceeds on and clears it when p falls
// below off (an alert that does not flap around one threshold).
func hysteresis(p []float64, on, off float64) []bool {
	out := make([]bool, len(p))
	active := false
	for i, v := range p {
		if active && v < off || !active && v > on {
			active = !active
		}
		out[i] = active
	}
	return out
}
