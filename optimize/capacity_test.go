package optimize

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestErlangCKnownValues(t *testing.T) {
	// Textbook values: c=1 reduces to rho; c=2, a=1 gives 1/3; c=10, a=8 gives 0.409 (tables).
	for _, tc := range []struct {
		c    int
		a    float64
		want float64
		tol  float64
	}{{1, 0.5, 0.5, 1e-12}, {2, 1, 1.0 / 3, 1e-12}, {10, 8, 0.4092, 5e-4}, {3, 3, 1, 0}, {4, 0, 0, 0}} {
		if got := ErlangC(tc.c, tc.a); math.Abs(got-tc.want) > tc.tol {
			t.Errorf("ErlangC(%d, %v) = %v, want %v", tc.c, tc.a, got, tc.want)
		}
	}
}

func TestRequiredVCPUsIsMinimal(t *testing.T) {
	m := DefaultCapacity()
	for _, lambda := range []float64{1, 10, 249, 250, 1000, 2847, 40000} {
		c, err := m.RequiredVCPUs(lambda)
		if err != nil {
			t.Fatal(err)
		}
		if m.ResponseMs(c, lambda) > m.SLOMs || (c > 1 && m.ResponseMs(c-1, lambda) <= m.SLOMs) {
			t.Errorf("lambda %v: %d vCPUs not the least meeting the SLO (%v, %v)", lambda, c, m.ResponseMs(c, lambda), m.ResponseMs(c-1, lambda))
		}
		if got := m.MaxThroughputAtSLO(c); got < lambda*(1-1e-9) {
			t.Errorf("lambda %v: %d vCPUs sustain only %v", lambda, c, got)
		}
	}
}

// Calibrate recovers the service rate and base latency from history the model
// itself generated with multiplicative noise.
func TestCalibrateRecoversModel(t *testing.T) {
	truth := CapacityModel{ServiceRate: 180, BaseLatencyMs: 12, SLOMs: 60, MaxNetworkUtilization: 1}
	rng := rand.New(rand.NewPCG(1, 2))
	var hist []Observation
	for range 200 {
		c := 4 + rng.IntN(28)
		lambda := float64(c) * truth.ServiceRate * (0.1 + 0.8*rng.Float64())
		util := lambda / (float64(c) * truth.ServiceRate)
		hist = append(hist, Observation{ThroughputRPS: lambda, VCPUs: c,
			CPUUtilization: math.Min(1, util*(1+0.03*rng.NormFloat64())),
			LatencyMs:      truth.ResponseMs(c, lambda) * (1 + 0.03*rng.NormFloat64())})
	}
	got, err := Calibrate(hist, CapacityModel{SLOMs: 60, MaxNetworkUtilization: 1})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.ServiceRate/truth.ServiceRate-1) > 0.02 || math.Abs(got.BaseLatencyMs-truth.BaseLatencyMs) > 1.5 {
		t.Fatalf("calibrated %+v, truth %+v", got, truth)
	}
}

func TestCalibrateBadHistory(t *testing.T) {
	base := DefaultCapacity()
	for name, h := range map[string][]Observation{
		"empty":      nil,
		"gap (NaN)":  {{ThroughputRPS: math.NaN(), VCPUs: 2, CPUUtilization: 0.5, LatencyMs: 30}},
		"zero vcpus": {{ThroughputRPS: 10, VCPUs: 0, CPUUtilization: 0.5, LatencyMs: 30}},
		"util > 1":   {{ThroughputRPS: 10, VCPUs: 2, CPUUtilization: 50, LatencyMs: 30}},
		"idle only":  {{ThroughputRPS: 10, VCPUs: 2, CPUUtilization: 0.01, LatencyMs: 30}},
		"negative":   {{ThroughputRPS: 10, VCPUs: 2, CPUUtilization: 0.5, LatencyMs: -3}},
	} {
		if _, err := Calibrate(h, base); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
