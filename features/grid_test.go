package features

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"
)

func series(times []int64, cols ...[]float64) *Table {
	s := &Table{Times: times, Values: cols}
	for i := range cols {
		s.Names = append(s.Names, string(rune('a'+i)))
	}
	return s
}

func TestResampleDuplicatesAndOrder(t *testing.T) {
	m := int64(time.Minute)
	// Out of order; t=2m twice identically; t=3m with two different values.
	s := series([]int64{3 * m, 0, 2 * m, m, 2 * m, 3 * m},
		[]float64{30, 0, 20, 10, 20, 40})
	g, rep, err := Resample(s, GridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Times, []int64{0, m, 2 * m, 3 * m}) || !slices.Equal(g.Values[0], []float64{0, 10, 20, 35}) {
		t.Fatalf("grid %v %v", g.Times, g.Values[0])
	}
	if rep.ExactDuplicates != 1 || rep.ConflictingDuplicates != 1 || rep.Points != 4 || rep.Cadence != time.Minute || rep.Rows != 6 {
		t.Fatalf("report %+v", rep)
	}
	if rep.String() == "" {
		t.Fatal("empty report")
	}
}

func TestResampleGapsAndFill(t *testing.T) {
	m := int64(time.Minute)
	// Steps of 1m; a 3-point hole (filled), then an 8-point hole (a gap).
	times := []int64{0, m, 2 * m, 6 * m, 7 * m, 16 * m, 17 * m, 18 * m}
	vals := []float64{0, 1, 2, 6, 7, 16, 17, 18}
	g, rep, err := Resample(series(times, vals), GridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantT := []int64{0, m, 2 * m, 3 * m, 4 * m, 5 * m, 6 * m, 7 * m, 16 * m, 17 * m, 18 * m}
	if !slices.Equal(g.Times, wantT) {
		t.Fatalf("times %v", g.Times)
	}
	if !slices.Equal(g.Values[0], []float64{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18}) {
		t.Fatalf("values %v", g.Values[0])
	}
	wantB := make([]bool, len(wantT))
	wantB[8] = true
	if !slices.Equal(g.Break, wantB) || rep.Filled != 3 || rep.Gaps != 1 || rep.Dropped != 8 {
		t.Fatalf("breaks %v report %+v", g.Break, rep)
	}
	// MaxFill 2 makes the 3-point hole a gap too; negative fills nothing.
	g, rep, _ = Resample(series(times, vals), GridOptions{MaxFill: 2})
	if rep.Gaps != 2 || rep.Filled != 0 || g.Len() != 8 || !g.Break[3] {
		t.Fatalf("MaxFill 2: %+v %v", rep, g.Break)
	}
	g, rep, _ = Resample(series(times, vals), GridOptions{MaxFill: -1})
	if rep.Gaps != 2 || rep.Filled != 0 {
		t.Fatalf("MaxFill -1: %+v", rep)
	}
	// Windows never cross the gap.
	f, err := Engineer(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWindows(f, WindowOptions{Steps: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w.Starts(), []int{0, 5}) { // the middle segment (2 rows) is too short
		t.Fatalf("window starts %v", w.Starts())
	}
}

func TestResampleCadenceAndBinning(t *testing.T) {
	s := int64(time.Second)
	// Jittered 10s observations: each goes to the grid point at or after it.
	times := []int64{0, 9 * s, 21 * s, 29 * s, 30 * s, 41 * s}
	vals := []float64{0, 1, 2, 3, 4, 5}
	g, rep, err := Resample(series(times, vals), GridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Cadence != 9*time.Second {
		// Steps 9, 12, 8, 1, 11: the median is 9s.
		t.Fatalf("cadence %v", rep.Cadence)
	}
	g, rep, err = Resample(series(times, vals), GridOptions{Cadence: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Slots: 0->0, 9->10, 21->30, 29->30, 30->30, 41->50; 20 and 40 are filled.
	if !slices.Equal(g.Times, []int64{0, 10 * s, 20 * s, 30 * s, 40 * s, 50 * s}) {
		t.Fatalf("times %v", g.Times)
	}
	if !slices.Equal(g.Values[0], []float64{0, 1, 2, 3, 4, 5}) || rep.Binned != 2 || rep.Filled != 2 {
		t.Fatalf("values %v report %+v", g.Values[0], rep)
	}
	if _, _, err := Resample(series(times, vals), GridOptions{Cadence: -1}); err == nil {
		t.Fatal("negative cadence accepted")
	}
}

func TestResampleSingleSample(t *testing.T) {
	s := series([]int64{5e9}, []float64{1})
	if _, _, err := Resample(s, GridOptions{}); !errors.Is(err, ErrCadence) {
		t.Fatalf("single sample without cadence: %v", err)
	}
	g, rep, err := Resample(s, GridOptions{Cadence: time.Minute})
	if err != nil || g.Len() != 1 || rep.Points != 1 {
		t.Fatalf("%v %+v", err, rep)
	}
	f, err := Engineer(g, nil)
	if err != nil || f.Rows() != 1 {
		t.Fatal(err)
	}
	w, err := NewWindows(f, WindowOptions{})
	if err != nil || w.Len() != 0 {
		t.Fatalf("windows of one sample: %v %d", err, w.Len())
	}
	// Identical timestamps only: still one distinct time.
	if _, _, err := Resample(series([]int64{0, 0}, []float64{1, 2}), GridOptions{}); !errors.Is(err, ErrCadence) {
		t.Fatalf("%v", err)
	}
	if _, _, err := Resample(&Table{}, GridOptions{}); !errors.Is(err, ErrNoData) {
		t.Fatalf("empty: %v", err)
	}
}

func TestResampleMissingEdges(t *testing.T) {
	m := int64(time.Minute)
	nan := math.NaN()
	// Metric b starts late and ends early: those rows are dropped, not
	// extrapolated.
	s := series([]int64{0, m, 2 * m, 3 * m, 4 * m}, []float64{0, 1, 2, 3, 4}, []float64{nan, 1, 2, 3, nan})
	g, rep, err := Resample(s, GridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Times, []int64{m, 2 * m, 3 * m}) || rep.Dropped != 2 || rep.Gaps != 0 || g.Break[0] {
		t.Fatalf("%v %+v %v", g.Times, rep, g.Break)
	}
}
