package serve

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// TestServiceSwitch: with ServiceOptions.Switch each metric is answered by
// a forecast.Switch fitted on the history and fed every row the requests
// bring after it, and by the forecaster where the switch cannot follow.
func TestServiceSwitch(t *testing.T) {
	fc := tinyForecaster(t)
	ctx := context.Background()
	const n0 = 700
	d := synthData(n0+40, []string{"cpu", "mem"}, 5, 6)
	history := sliceRows(d, 0, n0)
	svc, err := NewService(fc, history, ServiceOptions{Name: "synth", Switch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	// The reference: a Switch per metric fitted the same way, fed the
	// same rows.
	refs := make([]*forecast.Switch, len(d))
	for m, s := range history {
		refs[m] = forecast.NewSwitch(fc)
		if err := refs[m].Fit(s, baseline.SplitOf(n0).Train); err != nil {
			t.Fatal(err)
		}
	}
	check := func(ps []Prediction, to int) {
		t.Helper()
		for m := range d {
			if ps[m].Method != forecast.SwitchMethod || ps[m].Source != SourceModel {
				t.Fatalf("%s to row %d: method %q, source %v; want the switch", d[m].Name, to, ps[m].Method, ps[m].Source)
			}
			for h := 1; h <= fc.Horizon(); h++ {
				want, err := refs[m].Point(h)
				if err != nil {
					t.Fatal(err)
				}
				if g := ps[m].Points[h-1]; !near(g.Value, want.Value, 1e-9) || !near(g.P10, want.P10, 1e-9) || !near(g.P90, want.P90, 1e-9) {
					t.Fatalf("%s to row %d h=%d: %+v, want %+v", d[m].Name, to, h, g, want)
				}
			}
		}
	}
	// The history itself, then requests of the last rows, one, two or
	// five rows further each time, overlapping what was seen.
	ps, err := svc.Forecast(ctx, history)
	if err != nil {
		t.Fatal(err)
	}
	check(ps, n0)
	to := n0
	for _, step := range []int{1, 2, 5, 1} {
		for m := range d {
			for _, v := range d[m].Values[to : to+step] {
				refs[m].Update(v)
			}
		}
		to += step
		ps, err := svc.Forecast(ctx, sliceRows(d, to-fc.Needs(), to))
		if err != nil {
			t.Fatal(err)
		}
		check(ps, to)
		// Asked again with the same rows: the same answer, nothing fed.
		again, err := svc.Forecast(ctx, sliceRows(d, to-100, to))
		if err != nil {
			t.Fatal(err)
		}
		check(again, to)
	}
	// A request that goes back, then one that skips rows: the forecaster
	// answers, exactly as without the switch.
	for _, rows := range [][2]int{{to - 50, to - 1}, {to + 3, to + 3 + fc.Needs()}} {
		ps, err := svc.Forecast(ctx, sliceRows(d, rows[0], rows[1]))
		if err != nil {
			t.Fatal(err)
		}
		for m, s := range d {
			want, err := fc.Forecast(ctx, s.Values[:rows[1]])
			if err != nil {
				t.Fatal(err)
			}
			if ps[m].Method != forecast.ModelMethod || !near(ps[m].Points[4].Value, want.Points[4].Value, 1e-6) {
				t.Errorf("rows %d..%d of %s: method %q, h=5 %v; want the model's %v", rows[0], rows[1], s.Name, ps[m].Method, ps[m].Points[4].Value, want.Points[4].Value)
			}
		}
	}
	// A row that is not a number, outside the rows the network reads:
	// that metric is the forecaster's from then on, the other still the
	// switch's.
	end := to + fc.Needs() + 2
	bad := sliceRows(d, to-10, end)
	bad[0].Values = append([]float64(nil), bad[0].Values...)
	bad[0].Values[10] = math.NaN() // row to, the first one new
	for _, v := range d[1].Values[to : end+1] {
		refs[1].Update(v)
	}
	for i, req := range [][]baseline.Series{bad, sliceRows(d, end-fc.Needs(), end+1)} {
		ps, err := svc.Forecast(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if ps[0].Method != forecast.ModelMethod || ps[1].Method != forecast.SwitchMethod {
			t.Fatalf("request %d after a NaN in cpu: methods %q, %q; want model, switch", i, ps[0].Method, ps[1].Method)
		}
	}
	want, err := refs[1].Point(3)
	if err != nil {
		t.Fatal(err)
	}
	ps, err = svc.Forecast(ctx, sliceRows(d, end-fc.Needs(), end+1))
	if err != nil || !near(ps[1].Points[2].Value, want.Value, 1e-9) {
		t.Errorf("mem after cpu's NaN: h=3 %v (%v), want %v", ps[1].Points[2].Value, err, want.Value)
	}
}

// TestServiceSwitchConcurrent: concurrent requests of the same rows get
// the same answer (run with -race).
func TestServiceSwitchConcurrent(t *testing.T) {
	fc := tinyForecaster(t)
	d := synthData(640, []string{"cpu"}, 7)
	svc, err := NewService(fc, sliceRows(d, 0, 600), ServiceOptions{Switch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	var wg sync.WaitGroup
	got := make([]float64, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps, err := svc.Forecast(context.Background(), sliceRows(d, 500, 640))
			if err != nil || ps[0].Method != forecast.SwitchMethod {
				t.Errorf("request %d: %v, method %q", i, err, ps[0].Method)
				return
			}
			got[i] = ps[0].Points[11].Value
		}()
	}
	wg.Wait()
	for i, v := range got {
		if v != got[0] {
			t.Errorf("request %d: h=12 %v, request 0 %v", i, v, got[0])
		}
	}
}

// TestBacktestSwitch: with ServiceOptions.Switch, Backtest scores at each
// origin the forecast of a switch fitted as the service's was and fed the
// rows up to it.
func TestBacktestSwitch(t *testing.T) {
	fc := tinyForecaster(t)
	ctx := context.Background()
	d := synthData(800, []string{"cpu", "mem"}, 8, 9)
	const from, to, horizon = 600, 700, 12
	svc, err := NewService(fc, d, ServiceOptions{Switch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	b, err := svc.Backtest(ctx, d, from, to, horizon)
	if err != nil {
		t.Fatal(err)
	}
	// The coverage of the switch's intervals, origin by origin.
	covered := make([]int, horizon)
	for _, s := range d {
		sw := forecast.NewSwitch(fc)
		if err := sw.Fit(s, baseline.SplitOf(s.Len()).Train); err != nil {
			t.Fatal(err)
		}
		sw.Reset()
		for o := range to {
			sw.Update(s.Values[o])
			if o < from {
				continue
			}
			for h := 1; h <= horizon; h++ {
				p, err := sw.Point(h)
				if err != nil {
					t.Fatal(err)
				}
				if y := s.Values[o+h]; y >= p.P10 && y <= p.P90 {
					covered[h-1]++
				}
			}
		}
	}
	for h, c := range covered {
		if want := float64(c) / float64(len(d)*(to-from)); b.Coverage[h] != want {
			t.Errorf("h=%d: coverage %v, want the switch's %v", h+1, b.Coverage[h], want)
		}
	}
	// Not the forecaster's: without the switch the coverage differs.
	plain, err := NewService(fc, d, ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	pb, err := plain.Backtest(ctx, d, from, to, horizon)
	if err != nil {
		t.Fatal(err)
	}
	if pb.CoverageAll == b.CoverageAll {
		t.Errorf("the same coverage %v with and without the switch", b.CoverageAll)
	}
}

// TestNewFollowerErrors: a history a switch cannot follow is refused with
// an error naming the series and the row at fault.
func TestNewFollowerErrors(t *testing.T) {
	fc := tinyForecaster(t)
	good := synthData(500, []string{"cpu"}, 5)[0]
	good.Name = "cpu"
	if _, err := NewFollower(fc, good); err != nil {
		t.Fatalf("a good history: %v", err)
	}
	withNaN := good.Slice(0, 500)
	withNaN.Values = append([]float64{}, withNaN.Values...)
	withNaN.Values[7] = math.NaN()
	backwards := good.Slice(0, 500)
	backwards.Times = append(backwards.Times[:0:0], backwards.Times...)
	backwards.Times[9] = backwards.Times[8]
	for _, c := range []struct {
		name string
		s    baseline.Series
		want string
	}{
		{"NaN", withNaN, "cpu: row 7 is NaN"},
		{"time not increasing", backwards, "cpu: row 9"},
		{"times and values", baseline.Series{Name: "cpu", Times: good.Times[:3], Values: good.Values[:4]}, "3 times for 4 values"},
		{"empty", baseline.Series{Name: "cpu"}, "no rows"},
		{"too short for the autoregression", good.Slice(0, 80), "too few"},
	} {
		_, err := NewFollower(fc, c.s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if _, err := NewFollower(nil, good); err == nil {
		t.Error("no forecaster: accepted")
	}
}
