package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/forecast"
)

func abPair(t *testing.T, reg *Registry, ctrl, cand *forecast.Forecaster) (*Served, *Served) {
	t.Helper()
	a, err := reg.AddForecaster(Manifest{Model: "lat"}, ctrl)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := reg.AddForecaster(Manifest{Model: "lat"}, cand)
	if err := reg.Promote("lat", a.Version.String(), ""); err != nil {
		t.Fatal(err)
	}
	return &Served{Version: a, Forecaster: ctrl}, &Served{Version: b, Forecaster: cand}
}

// runAB feeds n steps of the smooth signal, starting at step offset,
// through the test: forecast the next value from the history before it,
// then observe it.
func runAB(t *testing.T, ab *ABTest, n, offset int) {
	t.Helper()
	const lead = 40
	y := values(smooth, offset, lead+n)
	for i := 0; i < n; i++ {
		p, err := ab.Predict(context.Background(), fmt.Sprintf("vm-%d", i%997), y[:lead+i], 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := ab.Observe(p.ID, y[lead+i]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestABShadowPromotesBetterCandidate(t *testing.T) {
	reg, _ := Create(t.TempDir())
	ctrl, cand := abPair(t, reg, tinyForecaster(t, "choppy", 1), tinyForecaster(t, "smooth", 1))
	ab, err := NewABTest(ABConfig{Mode: Shadow, MinSamples: 100, Registry: reg}, ctrl, cand)
	if err != nil {
		t.Fatal(err)
	}
	runAB(t, ab, 50, 1000)
	if r := ab.Result(); r.Decision != "continue" || !strings.Contains(r.Reason, "need 100") {
		t.Fatalf("decided on 50 samples: %+v", r)
	}
	if r, _ := ab.Conclude(true); r.Decision != "continue" {
		t.Fatal(r)
	}
	runAB(t, ab, 100, 2000)
	r, err := ab.Conclude(true)
	if err != nil {
		t.Fatal(err)
	}
	// Shadow: both arms scored on every request.
	if r.Decision != "promote" || r.Control.N != 150 || r.Candidate.N != 150 || r.Z > -1.96 {
		t.Fatalf("%+v", r)
	}
	act, _ := reg.Active("lat")
	if act.Version != cand.Version.Version {
		t.Fatalf("active %s", act.Version)
	}
	if n := act.Notes[len(act.Notes)-2]; n.Kind != "ab_test" || n.Values["n"] != 150 {
		t.Fatalf("outcome note %+v", act.Notes)
	}
}

func TestABSplitRejectsWorseCandidate(t *testing.T) {
	reg, _ := Create(t.TempDir())
	ctrl, cand := abPair(t, reg, tinyForecaster(t, "smooth", 1), tinyForecaster(t, "choppy", 1))
	ab, err := NewABTest(ABConfig{Mode: Split, Share: 0.3, MinSamples: 200, Registry: reg}, ctrl, cand)
	if err != nil {
		t.Fatal(err)
	}
	runAB(t, ab, 3000, 3000)
	r, err := ab.Conclude(true)
	if err != nil {
		t.Fatal(err)
	}
	if r.Decision != "reject" || r.Z < 1.96 {
		t.Fatalf("%+v", r)
	}
	if share := float64(r.Candidate.N) / 3000; math.Abs(share-0.3) > 0.05 {
		t.Errorf("candidate answered %.3f of requests, want ~0.3", share)
	}
	in, _ := reg.Get("lat", cand.Version.Version.String())
	if in.Status != Candidate || !strings.Contains(in.Reason, "A/B") || !strings.Contains(in.Reason, "worse") {
		t.Fatalf("candidate %s %q", in.Status, in.Reason)
	}
}

func TestABNoDifferenceEndsAtMaxSamples(t *testing.T) {
	reg, _ := Create(t.TempDir())
	fc := tinyForecaster(t, "smooth", 1)
	ctrl, cand := abPair(t, reg, fc, fc)
	ab, _ := NewABTest(ABConfig{Mode: Shadow, MinSamples: 50, MaxSamples: 120}, ctrl, cand)
	runAB(t, ab, 100, 4000)
	if r := ab.Result(); r.Decision != "continue" || r.Z != 0 {
		t.Fatalf("%+v", r)
	}
	runAB(t, ab, 30, 5000)
	if r := ab.Result(); r.Decision != "reject" || !strings.Contains(r.Reason, "no significant difference") {
		t.Fatalf("%+v", r)
	}
}

func TestABAssignmentStable(t *testing.T) {
	reg, _ := Create(t.TempDir())
	fc := tinyForecaster(t, "smooth", 1)
	ctrl, cand := abPair(t, reg, fc, fc)
	a1, _ := NewABTest(ABConfig{Mode: Split, Share: 0.2}, ctrl, cand)
	a2, _ := NewABTest(ABConfig{Mode: Split, Share: 0.2}, ctrl, cand)
	n := 0
	for i := 0; i < 20000; i++ {
		k := fmt.Sprintf("req-%d", i)
		if a1.Assign(k) != a2.Assign(k) {
			t.Fatalf("key %s assigned differently", k)
		}
		if a1.Assign(k) == Challenger {
			n++
		}
	}
	if share := float64(n) / 20000; math.Abs(share-0.2) > 0.01 {
		t.Errorf("share %.4f, want 0.2", share)
	}
}

func TestABBadInput(t *testing.T) {
	reg, _ := Create(t.TempDir())
	fc := tinyForecaster(t, "smooth", 1)
	ctrl, cand := abPair(t, reg, fc, fc)
	if _, err := NewABTest(ABConfig{Mode: "canary"}, ctrl, cand); err == nil {
		t.Error("unknown mode accepted")
	}
	if _, err := NewABTest(ABConfig{Share: 1.5}, ctrl, cand); err == nil {
		t.Error("share 1.5 accepted")
	}
	ab, _ := NewABTest(ABConfig{MaxPending: 3}, ctrl, cand)
	if err := ab.Observe(42, 1); !errors.Is(err, ErrUnknownPrediction) {
		t.Errorf("unknown id: %v", err)
	}
	ctx := context.Background()
	h := values(smooth, 0, fc.Needs())
	if _, err := ab.Predict(ctx, "k", h[1:], 1); !errors.Is(err, forecast.ErrBadInput) {
		t.Errorf("history shorter than the forecaster needs: %v", err)
	}
	if _, err := ab.Predict(ctx, "k", h, fc.Horizon()+1); err == nil || !strings.Contains(err.Error(), "horizon") {
		t.Errorf("horizon past the forecaster's: %v", err)
	}
	var ids []uint64
	for i := 0; i < 5; i++ {
		p, err := ab.Predict(ctx, "k", h, 1)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	if err := ab.Observe(ids[0], 1); !errors.Is(err, ErrUnknownPrediction) {
		t.Errorf("dropped id accepted: %v", err)
	}
	if err := ab.Observe(ids[4], 1); err != nil {
		t.Error(err)
	}
	if r := ab.Result(); r.Dropped != 2 || r.Pending != 2 {
		t.Errorf("pending %d dropped %d", r.Pending, r.Dropped)
	}
}
