package optimize

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// CapacityModel maps an allocation to the performance it delivers for a
// demand. The cluster's load balancer dispatches each request to an idle
// worker vCPU, so the allocation behaves as one M/M/c queue over all its
// vCPUs: requests arrive at rate lambda, a busy vCPU completes ServiceRate
// requests per second, and the mean response time is
//
//	R(c, lambda) = BaseLatencyMs + 1000 * (1/mu + ErlangC(c, lambda/mu) / (c*mu - lambda))
//
// An interval meets the SLO when lambda < c*mu (the queue is stable) and
// R <= SLOMs, and, when BytesPerRequest > 0, its network traffic fits within
// MaxNetworkUtilization of the allocation's baseline bandwidth.
type CapacityModel struct {
	ServiceRate           float64 `json:"service_rate_per_vcpu"`         // requests/s one busy vCPU completes (mu)
	BaseLatencyMs         float64 `json:"base_latency_ms"`               // latency outside the CPU queue (network, storage)
	SLOMs                 float64 `json:"slo_ms"`                        // mean response time an interval must meet
	BytesPerRequest       float64 `json:"bytes_per_request"`             // network bytes per request; 0 ignores the network
	MaxNetworkUtilization float64 `json:"max_network_utilization"`       // share of baseline bandwidth usable, (0,1]
	MinMemoryGiB          float64 `json:"min_memory_gib,omitempty"`      // working set the allocation must hold in total
	Samples               int     `json:"calibration_samples,omitempty"` // history samples the model was fitted on
}

// DefaultCapacity is the model the command line uses without a history: a
// 4 ms CPU service time per request (250 req/s per vCPU), 20 ms outside the
// queue, a 50 ms SLO (the DWCP v3 design's HDE latency target), 16 KiB per request and
// 70% usable network.
func DefaultCapacity() CapacityModel {
	return CapacityModel{ServiceRate: 250, BaseLatencyMs: 20, SLOMs: 50, BytesPerRequest: 16 << 10, MaxNetworkUtilization: 0.7}
}

// Validate reports the first field that cannot drive the model.
func (m CapacityModel) Validate() error {
	switch {
	case !(m.ServiceRate > 0) || math.IsInf(m.ServiceRate, 0):
		return fmt.Errorf("optimize: capacity.service_rate_per_vcpu: must be positive and finite, got %v", m.ServiceRate)
	case !finiteNonNeg(m.BaseLatencyMs):
		return fmt.Errorf("optimize: capacity.base_latency_ms: must be finite and non-negative, got %v", m.BaseLatencyMs)
	case !(m.SLOMs > 0) || math.IsInf(m.SLOMs, 0):
		return fmt.Errorf("optimize: capacity.slo_ms: must be positive and finite, got %v", m.SLOMs)
	case !finiteNonNeg(m.BytesPerRequest):
		return fmt.Errorf("optimize: capacity.bytes_per_request: must be finite and non-negative, got %v", m.BytesPerRequest)
	case m.BytesPerRequest > 0 && !(m.MaxNetworkUtilization > 0 && m.MaxNetworkUtilization <= 1):
		return fmt.Errorf("optimize: capacity.max_network_utilization: must be in (0,1], got %v", m.MaxNetworkUtilization)
	case !finiteNonNeg(m.MinMemoryGiB):
		return fmt.Errorf("optimize: capacity.min_memory_gib: must be finite and non-negative, got %v", m.MinMemoryGiB)
	}
	return nil
}

// ErlangC is the probability that an arrival waits in an M/M/c queue with
// offered load a = lambda/mu (in Erlangs); 1 when the queue is unstable.
func ErlangC(c int, a float64) float64 {
	if c <= 0 || a >= float64(c) {
		return 1
	}
	if a <= 0 {
		return 0
	}
	// Erlang B by its stable recursion, then C from B.
	b := 1.0
	for k := 1; k <= c; k++ {
		b = a * b / (float64(k) + a*b)
	}
	rho := a / float64(c)
	return b / (1 - rho*(1-b))
}

// ResponseMs is the model's mean response time for lambda req/s on c vCPUs;
// +Inf when the queue is unstable.
func (m CapacityModel) ResponseMs(c int, lambda float64) float64 {
	mu := m.ServiceRate
	if lambda <= 0 {
		return m.BaseLatencyMs + 1000/mu
	}
	if float64(c)*mu <= lambda {
		return math.Inf(1)
	}
	return m.BaseLatencyMs + 1000*(1/mu+ErlangC(c, lambda/mu)/(float64(c)*mu-lambda))
}

// errSLOUnreachable marks an SLO no number of vCPUs can meet.
var errSLOUnreachable = errors.New("the SLO is below the unloaded response time")

// RequiredVCPUs is the fewest vCPUs whose response time meets the SLO at
// lambda req/s (0 for no demand).
func (m CapacityModel) RequiredVCPUs(lambda float64) (int, error) {
	if lambda <= 0 {
		return 0, nil
	}
	mu := m.ServiceRate
	if m.BaseLatencyMs+1000/mu > m.SLOMs {
		return 0, errSLOUnreachable
	}
	a := lambda / mu
	if a > 1e7 {
		return 0, fmt.Errorf("optimize: demand %g req/s needs more than 10^7 vCPUs", lambda)
	}
	// Walk c upward carrying the Erlang B recursion so each step is O(1).
	b := 1.0
	for c := 1; ; c++ {
		b = a * b / (float64(c) + a*b)
		if float64(c) <= a {
			continue
		}
		rho := a / float64(c)
		ec := b / (1 - rho*(1-b))
		if m.BaseLatencyMs+1000*(1/mu+ec/(float64(c)*mu-lambda)) <= m.SLOMs {
			return c, nil
		}
	}
}

// RequiredGbps is the baseline bandwidth lambda req/s needs (0 when the model
// ignores the network).
func (m CapacityModel) RequiredGbps(lambda float64) float64 {
	if m.BytesPerRequest <= 0 || lambda <= 0 {
		return 0
	}
	return lambda * m.BytesPerRequest * 8 / 1e9 / m.MaxNetworkUtilization
}

// MaxThroughputAtSLO is the highest request rate c vCPUs sustain within the
// SLO (the capacity planners quote as "throughput per vCPU at the SLO" once
// divided by c).
func (m CapacityModel) MaxThroughputAtSLO(c int) float64 {
	if c <= 0 || m.BaseLatencyMs+1000/m.ServiceRate > m.SLOMs {
		return 0
	}
	lo, hi := 0.0, float64(c)*m.ServiceRate
	for range 60 {
		mid := (lo + hi) / 2
		if m.ResponseMs(c, mid) <= m.SLOMs {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// Observation is one interval of metrics history used to calibrate the model.
type Observation struct {
	ThroughputRPS  float64 `json:"throughput_rps"`  // completed requests per second
	VCPUs          int     `json:"vcpus"`           // vCPUs serving during the interval
	CPUUtilization float64 `json:"cpu_utilization"` // busy share of those vCPUs, 0..1
	LatencyMs      float64 `json:"latency_ms"`      // mean response time
}

// minCalibrationUtil drops near-idle intervals: their busy time is dominated
// by background work, not requests, and inflates the service-time estimate.
const minCalibrationUtil = 0.05

// Calibrate fits a capacity model to metrics history with the utilisation
// law (U = lambda / (c*mu), so mu = lambda / (c*U)) and attributes the rest of
// the observed latency, beyond the M/M/c response, to BaseLatencyMs. Medians
// keep outliers from steering either. The SLO, bytes per request and network
// share are the operator's and are taken from base.
func Calibrate(history []Observation, base CapacityModel) (CapacityModel, error) {
	if len(history) == 0 {
		return base, errors.New("optimize: calibrate: empty history")
	}
	var mus []float64
	for i, o := range history {
		for _, f := range []struct {
			name string
			v    float64
		}{{"throughput_rps", o.ThroughputRPS}, {"cpu_utilization", o.CPUUtilization}, {"latency_ms", o.LatencyMs}} {
			if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
				return base, fmt.Errorf("optimize: calibrate: history[%d].%s: must be finite and non-negative, got %v (a gap in the metrics?)", i, f.name, f.v)
			}
		}
		if o.VCPUs <= 0 {
			return base, fmt.Errorf("optimize: calibrate: history[%d].vcpus: must be positive, got %d", i, o.VCPUs)
		}
		if o.CPUUtilization > 1 {
			return base, fmt.Errorf("optimize: calibrate: history[%d].cpu_utilization: must be a share in [0,1], got %v", i, o.CPUUtilization)
		}
		if o.CPUUtilization >= minCalibrationUtil && o.ThroughputRPS > 0 {
			mus = append(mus, o.ThroughputRPS/(float64(o.VCPUs)*o.CPUUtilization))
		}
	}
	if len(mus) == 0 {
		return base, fmt.Errorf("optimize: calibrate: no interval of %d has cpu_utilization >= %v and traffic", len(history), minCalibrationUtil)
	}
	out := base
	out.ServiceRate = median(mus)
	out.BaseLatencyMs = 0
	var rest []float64
	for _, o := range history {
		r := out.ResponseMs(o.VCPUs, o.ThroughputRPS)
		if o.CPUUtilization >= minCalibrationUtil && !math.IsInf(r, 0) {
			rest = append(rest, o.LatencyMs-r)
		}
	}
	if len(rest) > 0 {
		out.BaseLatencyMs = math.Max(0, median(rest))
	}
	out.Samples = len(mus)
	return out, out.Validate()
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
