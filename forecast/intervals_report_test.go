package forecast

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/internal/nabdata"
)

// validationWindows are the windows Train calibrates on: every origin
// whose targets up to the horizon lie in the validation split.
func validationWindows(r Recipe, series []baseline.Series) *windows {
	va := &windows{}
	for si, s := range series {
		sp := baseline.SplitOf(s.Len())
		for t := max(sp.Train-1, r.Needs()-1); t+r.Horizon < sp.Fit(); t++ {
			va.add(r, s.Values, si, t)
		}
	}
	return va
}

// intervalScore pools the coverage and keeps the scaled Winkler score of
// one method at one horizon over series.
type intervalScore struct {
	hits, n int
	wink    []float64
}

func (a *intervalScore) add(y []float64, d float64, tg []int, lo, hi func(i int) float64) {
	var w float64
	for i, j := range tg {
		l, u := lo(i), hi(i)
		if y[j] >= l && y[j] <= u {
			a.hits++
		}
		w += baseline.Winkler(baseline.IntervalAlpha, l, u, y[j])
	}
	a.n += len(tg)
	a.wink = append(a.wink, w/float64(len(tg))/d)
}

func (a *intervalScore) String() string {
	return fmt.Sprintf("%.1f%% %.3f", 100*float64(a.hits)/float64(a.n), baseline.GeoMean(a.wink))
}

// TestIntervalsLeaveSeriesOut scores the interval calibration on the
// folds of `perfpredict crossval --folds 4` without retraining them: the
// fold forecasters are read from the folder PERFPREDICT_FOLDS (fold0.zip
// .. fold3.zip, each trained by Train with DefaultOptions on the series
// not in its fold, series i in fold i mod 4; a missing one is trained and
// saved there first; run with -timeout 0), each is calibrated again by
// calibrate on its training series' validation windows, and the held-out
// series are scored on their validation split (the selection data: no
// forecaster saw them, and no choice is scored on the test split) and on
// their test split (as crossval scores them), against the calibration of
// before (the plain quantiles of the pooled residuals in units) and
// against persistence's conformal intervals (on validation calibrated on
// the last 15% of the training split, on test as the protocol's).
// PROTOCOL.md's tables of "Intervals" come from this.
func TestIntervalsLeaveSeriesOut(t *testing.T) {
	dir := os.Getenv("PERFPREDICT_FOLDS")
	if dir == "" {
		t.Skip("PERFPREDICT_FOLDS is not set")
	}
	ctx := context.Background()
	var series []baseline.Series
	for _, p := range nabdata.Series() {
		ss, err := baseline.LoadColumns(filepath.Join("..", "testdata", "nab", p), nil)
		if err != nil {
			t.Fatal(err)
		}
		ss[0].Name = strings.TrimSuffix(filepath.Base(p), ".csv")
		series = append(series, ss[0])
	}
	hs := []int{1, 12, 30}
	const folds = 4
	type key struct{ method, split string }
	score := map[key][]intervalScore{}
	at := func(method, split string) []intervalScore {
		k := key{method, split}
		if score[k] == nil {
			score[k] = make([]intervalScore, len(hs))
		}
		return score[k]
	}
	var rows []IntervalResult
	for k := range folds {
		train, held := Fold(series, folds, k)
		path := filepath.Join(dir, fmt.Sprintf("fold%d.zip", k))
		if _, err := os.Stat(path); os.IsNotExist(err) {
			// Train the fold as crossval does, once: later runs read it.
			t.Logf("fold %d: training on %d series (minutes)", k, len(train))
			fc, err := Train(ctx, train, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			if err := fc.Save(path); err != nil {
				t.Fatal(err)
			}
			fc.Close()
		}
		fc, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		// Before: the plain 10% and 90% quantiles of the pooled residuals in
		// units, as calibrate took them until the scale existed.
		va := validationWindows(fc.recipe, train)
		res, _, err := fc.residuals(ctx, train, va, "")
		if err != nil {
			t.Fatal(err)
		}
		saved := Calibration{}
		for _, r := range res {
			q0, q1 := quantiles(r)
			saved.Q10, saved.Q90, saved.N = append(saved.Q10, q0), append(saved.Q90, q1), append(saved.N, len(r))
		}
		if err := fc.calibrate(ctx, train, va); err != nil {
			t.Fatal(err)
		}
		now := fc.calib
		t.Logf("fold %d: before q10/q90 at h=1,12,30 %.3f/%.3f %.3f/%.3f %.3f/%.3f (%s); now %.3f/%.3f %.3f/%.3f %.3f/%.3f (%s)", k,
			saved.Q10[0], saved.Q90[0], saved.Q10[11], saved.Q90[11], saved.Q10[29], saved.Q90[29], scaleName(saved.Scale),
			now.Q10[0], now.Q90[0], now.Q10[11], now.Q90[11], now.Q10[29], now.Q90[29], scaleName(now.Scale))
		for _, s := range held {
			y, sp := s.Values, baseline.SplitOf(s.Len())
			d := baseline.NaiveScale(y, sp)
			for _, split := range []string{"validation", "test"} {
				tg := baseline.Targets(sp)
				if split == "validation" {
					tg = tg[:0:0]
					for j := sp.Train; j < sp.Fit(); j++ {
						tg = append(tg, j)
					}
				}
				for _, c := range []struct {
					name  string
					calib Calibration
				}{{"before", saved}, {"now", now}} {
					fc.calib = c.calib
					_, lo, hi, err := fc.forecastsAt(ctx, s, hs, tg, split)
					if err != nil {
						t.Fatal(err)
					}
					for i := range hs {
						at("model, "+c.name, split)[i].add(y, d, tg, func(n int) float64 { return lo[i][n] }, func(n int) float64 { return hi[i][n] })
					}
				}
				// Persistence's split-conformal intervals.
				for i, h := range hs {
					c0, c1 := sp.Train, sp.Fit() // the protocol's: calibrated on validation
					if split == "validation" {
						c0, c1 = sp.Train-sp.Val, sp.Train
					}
					var res []float64
					for j := c0; j < c1; j++ {
						res = append(res, y[j]-y[j-h])
					}
					q0, q1 := quantiles(res)
					at("persistence", split)[i].add(y, d, tg, func(n int) float64 { return y[tg[n]-h] + q0 }, func(n int) float64 { return y[tg[n]-h] + q1 })
				}
			}
		}
		// The test split as crossval scores it (Holt-Winters too).
		fc.calib = now
		rep, err := Evaluate(ctx, fc, held, hs, EvalOptions{})
		fc.Close()
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, rep.Intervals.Series...)
	}
	for _, split := range []string{"validation", "test"} {
		for _, m := range []string{"model, before", "model, now", "persistence"} {
			s := at(m, split)
			t.Logf("%-10s %-14s h=1 %s  h=12 %s  h=30 %s", split, m, &s[0], &s[1], &s[2])
		}
	}
	sum := summariseIntervals(rows, hs)
	for _, h := range []string{"1", "12", "30"} {
		for _, m := range []string{ModelMethod, "persistence", "holt_winters"} {
			v := sum[h][m]
			t.Logf("Evaluate, test, h=%-2s %-13s coverage %.1f%% Winkler %.3f (%d of %d series in 75-85%%)", h, m, 100*float64(v.Coverage), float64(v.Winkler), v.InBand, v.Series)
		}
	}
	// What crossval reports is what the scoring above found.
	for i, h := range []string{"1", "12", "30"} {
		s := at("model, now", "test")[i]
		if v := sum[h][ModelMethod]; math.Abs(float64(v.Coverage)-float64(s.hits)/float64(s.n)) > 1e-12 || math.Abs(float64(v.Winkler)-baseline.GeoMean(s.wink)) > 1e-9 {
			t.Errorf("h=%s: Evaluate %+v, scored here %s", h, v, &s)
		}
	}
}

func scaleName(s string) string {
	if s == "" {
		return "unit"
	}
	return s
}

// quantiles are the 10% and 90% quantiles of r as baseline.ConformalOffsets
// takes them.
func quantiles(r []float64) (q10, q90 float64) {
	s := append([]float64(nil), r...)
	slices.Sort(s)
	return baseline.QuantileSorted(s, 0.1), baseline.QuantileSorted(s, 0.9)
}
