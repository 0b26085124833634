package monitor

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func nan() float64 { return math.NaN() }

func TestHealthRollingFigures(t *testing.T) {
	h := NewHealth(HealthConfig{Window: time.Hour, Slot: time.Minute, RateWindow: 5 * time.Minute})
	t0 := time.Date(2025, 3, 1, 23, 0, 0, 0, time.UTC)
	// 60 minutes: one scored forecast per minute, 4% error for the first 30
	// minutes, 10% after; 10 predictions per minute, one in ten a fallback.
	for m := 0; m < 60; m++ {
		at := t0.Add(time.Duration(m) * time.Minute)
		pe := 0.04
		if m >= 30 {
			pe = 0.10
		}
		h.ObserveError(at, 100*(1+pe), 100)
		for k := 0; k < 10; k++ {
			h.ObservePrediction(at.Add(time.Duration(k)*time.Second), time.Duration(1+k)*time.Millisecond, k == 0)
		}
	}
	now := t0.Add(59*time.Minute + 30*time.Second)
	s := h.Snapshot(now)
	if s.Errors != 60 || math.Abs(s.Accuracy5-0.5) > 1e-12 || math.Abs(s.MAPE-7) > 1e-9 || math.Abs(s.MAE-7) > 1e-9 {
		t.Fatalf("errors %d acc5 %v mape %v mae %v", s.Errors, s.Accuracy5, s.MAPE, s.MAE)
	}
	if s.Predictions != 600 || math.Abs(s.FallbackRate-0.1) > 1e-12 {
		t.Fatalf("predictions %d fallback %v", s.Predictions, s.FallbackRate)
	}
	// 5 slots of 10 predictions over 4.5 minutes.
	if want := 50 / 270.0; math.Abs(s.PredictionsPerSecond-want) > 1e-12 {
		t.Fatalf("rate %v, want %v", s.PredictionsPerSecond, want)
	}
	// Latencies 1..10 ms uniformly: p50 ~5 ms, p99 ~10 ms, within the
	// histogram's sqrt(2) bucket resolution.
	if s.LatencyP50 < 0.004 || s.LatencyP50 > 0.0065 || s.LatencyP99 < 0.008 || s.LatencyP99 > 0.0115 {
		t.Fatalf("p50 %v p99 %v", s.LatencyP50, s.LatencyP99)
	}
	if math.Abs(s.LatencyMean-0.0055) > 1e-9 {
		t.Fatalf("mean %v", s.LatencyMean)
	}
	// Half an hour later the 4% half has left the window.
	s = h.Snapshot(t0.Add(89*time.Minute + 30*time.Second))
	if s.Errors != 30 || s.Accuracy5 != 0 || s.PredictionsPerSecond != 0 {
		t.Fatalf("after sliding: %+v", s)
	}
	// Daily MAPE: all 60 forecasts fell on 2025-03-01.
	days := h.DailyMAPE()
	if len(days) != 1 || days[0].N != 60 || math.Abs(days[0].MAPE-7) > 1e-9 || days[0].Day.Day() != 1 {
		t.Fatalf("daily %+v", days)
	}
	c := h.Cumulative()
	if c.Count != 600 || c.Fallbacks != 60 || c.Counts[len(c.Counts)-1] != 600 {
		t.Fatalf("cumulative %d %d", c.Count, c.Fallbacks)
	}
	// Empty: NaN, not zero.
	if s := NewHealth(HealthConfig{}).Snapshot(now); !math.IsNaN(s.MAPE) || !math.IsNaN(s.LatencyP99) {
		t.Fatalf("empty snapshot %+v", s)
	}
}

func TestSnapshotJSONWithoutData(t *testing.T) {
	b, err := json.Marshal(NewHealth(HealthConfig{}).Snapshot(time.Unix(0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"mape":null`) || !strings.Contains(string(b), `"predictions":0`) {
		t.Fatalf("%s", b)
	}
	ref, _ := NewReference([]string{"a"}, [][]float64{{1}, {2}}, 2)
	b, err = json.Marshal(NewDrift(ref, 3).Report())
	if err != nil || !strings.Contains(string(b), `"psi":null`) {
		t.Fatalf("%s %v", b, err)
	}
}
