package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/novacron/perfpredict/integration"
)

// Targets are the tuners' goals in the simulated cluster.
type Targets struct {
	HDE integration.HDETarget
	PBA integration.PBATarget
	ACP integration.ACPTarget
}

// DefaultTargets: 10 ms transfer latency and 80% CPU for HDE, 2% loss for
// PBA, a 20 ms commit budget and 5% failed rounds for ACP.
func DefaultTargets() Targets {
	return Targets{HDE: integration.HDETarget{LatencyMs: 10, MaxCPU: 0.8},
		PBA: integration.PBATarget{MaxLossRate: 0.02},
		ACP: integration.ACPTarget{LatencyBudgetMs: 20, MaxFailedRoundShare: 0.05}}
}

// Tuners drives a cluster's engines with the integration tuners; any of the
// three may be nil to leave that component static. It implements Controller.
type Tuners struct {
	HDE *integration.HDETuner
	PBA *integration.PBATuner
	ACP *integration.ACPTuner
	// SetterErrors collects setter failures; the tuners kept the previous
	// settings and the run goes on.
	SetterErrors []error
	// Decisions counts changes (rollbacks included) per component.
	Decisions map[string]int
	// Forecasting, when set, gives each tuner an Expectation from forecasts
	// of its telemetry before it decides; nil: the tuners plan reactively,
	// on the interval just measured.
	Forecasting *Forecasting
}

// NewTuners makes all three tuners over the cluster's engines, starting from
// its current settings.
func NewTuners(c *Cluster, t Targets, opts integration.Options) (*Tuners, error) {
	h, p, a := c.Settings()
	ht, err := integration.NewHDETuner(c, h, t.HDE, opts)
	if err != nil {
		return nil, err
	}
	pt, err := integration.NewPBATuner(c, p, t.PBA, opts)
	if err != nil {
		return nil, err
	}
	at, err := integration.NewACPTuner(c, a, t.ACP, opts)
	if err != nil {
		return nil, err
	}
	return &Tuners{HDE: ht, PBA: pt, ACP: at}, nil
}

type decider interface {
	Decide(ctx context.Context) (integration.Decision, error)
}

// AfterInterval feeds each tuner its component's telemetry and lets it
// decide.
func (t *Tuners) AfterInterval(ctx context.Context, _ *Cluster, st IntervalStats) error {
	if t.Decisions == nil {
		t.Decisions = map[string]int{}
	}
	var expect struct {
		hde, acp, pba integration.Expectation
		ok            bool
	}
	if f := t.Forecasting; f != nil && st.Requests > 0 {
		if f.Forecaster == nil {
			return errors.New("forecasting: no forecaster")
		}
		f.record(st)
		var err error
		if expect.hde, expect.acp, expect.pba, expect.ok, err = f.expectations(ctx, st); err != nil {
			return err
		}
	}
	step := func(name string, d decider, observe func() error, plan func(integration.Expectation) error, e integration.Expectation) error {
		if err := observe(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if expect.ok {
			if err := plan(e); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		dec, err := d.Decide(ctx)
		var se *integration.SetterError
		if errors.As(err, &se) {
			t.SetterErrors = append(t.SetterErrors, fmt.Errorf("interval %d: %w", st.Index, err))
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if dec.Changed {
			t.Decisions[name]++
		}
		return nil
	}
	if st.Requests == 0 {
		return nil // nothing measured: no telemetry to learn from
	}
	if t.HDE != nil {
		if err := step("HDE", t.HDE, func() error {
			return t.HDE.Observe(integration.HDETelemetry{Settings: st.HDE, ThroughputRPS: st.ArrivalRPS,
				LatencyMs: st.TransferMs, WireBytes: st.WireBytes, CPUUtil: st.CPUUtil})
		}, t.HDE.Expect, expect.hde); err != nil {
			return err
		}
	}
	if t.PBA != nil {
		if err := step("PBA", t.PBA, func() error { return t.PBA.Observe(st.PBATelemetry()) }, t.PBA.Expect, expect.pba); err != nil {
			return err
		}
	}
	if t.ACP != nil {
		if err := step("ACP", t.ACP, func() error {
			return t.ACP.Observe(integration.ACPTelemetry{Settings: st.ACP, ClusterSize: ClusterSize, LoadRPS: st.ArrivalRPS,
				CommitMs: st.CommitMs, FailedRoundShare: st.FailedRounds, ErrorRate: st.ACPErrorRate})
		}, t.ACP.Expect, expect.acp); err != nil {
			return err
		}
	}
	return nil
}

// PBATelemetry is what the PBA engine reports for the interval. The offered
// traffic is what the requests put on the wire the first time: the
// retransmissions the settings in effect caused are theirs alone, and
// counting them as demand would charge every other setting's replay with
// them.
func (st IntervalStats) PBATelemetry() integration.PBATelemetry {
	offered := st.ArrivalRPS * st.WireBytes * (1 - st.ResentShare) * 8 / 1e6
	return integration.PBATelemetry{Settings: st.PBA,
		Traffic:   integration.TrafficPattern{OfferedMbps: offered, AvailableMbps: st.MeasuredMbps, Burstiness: 1},
		NetworkMs: st.NetMs, RetransmitMs: st.RetransmitMs, LossRate: st.LossRate, EstimateError: st.EstError,
		Measurements: st.Measurements, EpochMs: PBAEpochMs,
		MessageRate: st.ArrivalRPS, RetransmitTimeoutMs: RetransmitTimeoutMs, PacketsPerMessage: st.Packets,
		MaxRetransmits: MaxRetransmitRounds}
}

// Comparison is the before/after table: the same trace and seed with static
// default settings and with the tuners in the loop.
type Comparison struct {
	Static    Metrics `json:"static"`
	Tuned     Metrics `json:"tuned"`
	ChangePct Metrics `json:"change_pct"`
}

// MarshalJSON writes the comparison with a change that has no finite value
// (from zero to something) as null.
func (c Comparison) MarshalJSON() ([]byte, error) {
	pct := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	ch := c.ChangePct
	return json.Marshal(struct {
		Static    Metrics             `json:"static"`
		Tuned     Metrics             `json:"tuned"`
		ChangePct map[string]*float64 `json:"change_pct"`
	}{c.Static, c.Tuned, map[string]*float64{
		"latency_avg_ms": pct(ch.LatencyAvgMs), "latency_p95_ms": pct(ch.LatencyP95Ms), "latency_p99_ms": pct(ch.LatencyP99Ms),
		"throughput_rps": pct(ch.ThroughputRPS), "error_rate": pct(ch.ErrorRate), "utilization": pct(ch.Utilization)}})
}

// Compare runs rps twice on identically seeded clusters.
func Compare(ctx context.Context, rps []float64, cfg Config, targets Targets, opts integration.Options) (Comparison, *Tuners, error) {
	static, err := NewCluster(cfg)
	if err != nil {
		return Comparison{}, nil, err
	}
	before, _, err := static.Run(ctx, rps, nil)
	if err != nil {
		return Comparison{}, nil, err
	}
	tunedC, err := NewCluster(cfg)
	if err != nil {
		return Comparison{}, nil, err
	}
	tuners, err := NewTuners(tunedC, targets, opts)
	if err != nil {
		return Comparison{}, nil, err
	}
	after, _, err := tunedC.Run(ctx, rps, tuners)
	if err != nil {
		return Comparison{}, nil, err
	}
	return Comparison{Static: before, Tuned: after, ChangePct: ChangePct(before, after)}, tuners, nil
}
