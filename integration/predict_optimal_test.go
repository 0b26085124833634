package integration

import (
	"errors"
	"math"
	"testing"
)

// The whole-grid searches PredictOptimal*Settings, checked against predictors whose
// best setting can be worked out by hand.

// hdeModel: latency grows with level and chunk, bytes shrink with level and
// grow with chunk; CPU 5% per level.
type hdeModel struct{ none bool }

func (m hdeModel) PredictHDE(s HDESettings, _ float64) (HDEOutcome, bool) {
	if m.none {
		return HDEOutcome{}, false
	}
	l, c := float64(s.CompressionLevel), float64(s.ChunkSize)
	return HDEOutcome{
		LatencyMs: 10 + 2*l + c/65536,
		WireBytes: 1000 / (1 + l) * (1 + c*1e-6),
		CPUUtil:   0.05 * l,
	}, true
}

func TestPredictOptimalHDESettings(t *testing.T) {
	// Within 20 ms the smallest chunk (4 KiB, +0.0625 ms) allows level 4
	// (18.06 ms); level 5 would take 20.06 ms.
	got, err := PredictOptimalHDESettings(hdeModel{}, 1000, 20)
	if err != nil || got != (HDESettings{CompressionLevel: 4, ChunkSize: 4 << 10}) {
		t.Errorf("latency target 20 ms: got %+v, %v; want level 4, chunk 4 KiB", got, err)
	}
	// No setting reaches 5 ms: the least violation is the fastest setting.
	got, err = PredictOptimalHDESettings(hdeModel{}, 1000, 5)
	if err != nil || got != (HDESettings{CompressionLevel: 0, ChunkSize: 4 << 10}) {
		t.Errorf("unreachable target: got %+v, %v; want the fastest, level 0, chunk 4 KiB", got, err)
	}
	if _, err := PredictOptimalHDESettings(hdeModel{none: true}, 1000, 20); !errors.Is(err, ErrNoTelemetry) {
		t.Errorf("no predictions: got %v, want ErrNoTelemetry", err)
	}
	for _, tp := range []float64{math.NaN(), -1, math.Inf(1)} {
		if _, err := PredictOptimalHDESettings(hdeModel{}, tp, 20); err == nil {
			t.Errorf("throughput %v accepted", tp)
		}
	}
	if _, err := PredictOptimalHDESettings(hdeModel{}, 1000, math.NaN()); err == nil {
		t.Error("NaN latency target accepted")
	}
}

// acpModel: short timeouts fail rounds; commit time grows with timeout and
// batch.
type acpModel struct{}

func (acpModel) PredictACP(s ACPSettings, clusterSize int, _ float64) (ACPOutcome, bool) {
	failed := 0.01
	if s.TimeoutMs < 20 {
		failed = 0.2
	}
	return ACPOutcome{CommitMs: 5 + 0.1*s.TimeoutMs + 0.05*float64(s.BatchSize) + float64(clusterSize), FailedRoundShare: failed}, true
}

func TestPredictOptimalACPSettings(t *testing.T) {
	// The fastest commit among settings failing <= 5% of rounds: the
	// shortest safe timeout (20 ms) with the smallest batch.
	got, err := PredictOptimalACPSettings(acpModel{}, 5, 1000, 100)
	if err != nil || got != (ACPSettings{TimeoutMs: 20, BatchSize: 1}) {
		t.Errorf("got %+v, %v; want timeout 20 ms, batch 1", got, err)
	}
	if _, err := PredictOptimalACPSettings(acpModel{}, 0, 1000, 100); err == nil {
		t.Error("cluster size 0 accepted")
	}
	if _, err := PredictOptimalACPSettings(acpModel{}, 5, math.NaN(), 100); err == nil {
		t.Error("NaN load accepted")
	}
	if _, err := PredictOptimalACPSettings(acpModel{}, 5, 1000, -1); err == nil {
		t.Error("negative latency budget accepted")
	}
}

// pbaModel: wider windows are faster; confidence below 0.8 loses packets.
type pbaModel struct{}

func (pbaModel) PredictPBA(s PBASettings, _ TrafficPattern) (PBAOutcome, bool) {
	loss := 0.01
	if s.Confidence < 0.8 {
		loss = 0.1
	}
	return PBAOutcome{NetworkMs: 100/float64(s.WindowSize) + 10*s.Confidence, LossRate: loss}, true
}

func TestPredictOptimalPBASettings(t *testing.T) {
	pattern := TrafficPattern{OfferedMbps: 100, AvailableMbps: 1000, Burstiness: 1.5}
	got, err := PredictOptimalPBASettings(pbaModel{}, pattern, 0.05)
	if err != nil || got != (PBASettings{WindowSize: 64, Confidence: 0.8}) {
		t.Errorf("got %+v, %v; want window 64, confidence 0.8", got, err)
	}
	if _, err := PredictOptimalPBASettings(pbaModel{}, TrafficPattern{OfferedMbps: 100}, 0.05); err == nil {
		t.Error("a pattern without available bandwidth accepted")
	}
	for _, maxLoss := range []float64{0, 1.5, math.NaN()} {
		if _, err := PredictOptimalPBASettings(pbaModel{}, pattern, maxLoss); err == nil {
			t.Errorf("max loss %v accepted", maxLoss)
		}
	}
}
