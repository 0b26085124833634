package sim_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/integration"
	"github.com/novacron/perfpredict/integration/sim"
)

func shortTrace(t *testing.T) []float64 {
	t.Helper()
	raw, err := sim.LoadTrace("../../testdata/nab/realAWSCloudwatch/elb_request_count_8c0756.csv")
	if err != nil {
		t.Fatal(err)
	}
	rps, err := sim.ScaleToMedian(raw[:300], 600)
	if err != nil {
		t.Fatal(err)
	}
	return rps
}

func TestDeterministic(t *testing.T) {
	rps := shortTrace(t)
	cfg := sim.Config{Seed: 3, SliceSeconds: 0.25}
	a, _, err := sim.Compare(context.Background(), rps, cfg, sim.DefaultTargets(), integration.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := sim.Compare(context.Background(), rps, cfg, sim.DefaultTargets(), integration.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("same seed, different results:\n%+v\n%+v", a, b)
	}
	c, _, _ := sim.Compare(context.Background(), rps, sim.Config{Seed: 4, SliceSeconds: 0.25}, sim.DefaultTargets(), integration.Options{})
	if c.Static == a.Static {
		t.Fatal("different seeds, identical runs")
	}
}

// Static runs with different settings see the same arrivals (separate
// random streams), so request counts match exactly.
func TestCommonRandomNumbers(t *testing.T) {
	rps := shortTrace(t)[:40]
	count := func(level int) int {
		c, _ := sim.NewCluster(sim.Config{Seed: 9, SliceSeconds: 0.25})
		if err := c.SetCompressionLevel(level); err != nil {
			t.Fatal(err)
		}
		_, st, err := c.Run(context.Background(), rps, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range st {
			n += s.Requests
		}
		return n
	}
	if a, b := count(1), count(9); a != b || a == 0 {
		t.Fatalf("arrivals differ: %d vs %d", a, b)
	}
}

// The model's trade-offs point the documented way.
func TestTradeOffs(t *testing.T) {
	run := func(set func(c *sim.Cluster), load float64) sim.IntervalStats {
		c, _ := sim.NewCluster(sim.Config{Seed: 5, SliceSeconds: 0.5})
		set(c)
		_, st, err := c.Run(context.Background(), []float64{load, load, load, load, load, load}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var agg sim.IntervalStats
		for _, s := range st {
			agg.WireBytes += s.WireBytes / float64(len(st))
			agg.CPUUtil += s.CPUUtil / float64(len(st))
			agg.FailedRounds += s.FailedRounds / float64(len(st))
			agg.LossRate += s.LossRate / float64(len(st))
		}
		return agg
	}
	lo := run(func(c *sim.Cluster) { _ = c.SetCompressionLevel(1) }, 500)
	hi := run(func(c *sim.Cluster) { _ = c.SetCompressionLevel(9) }, 500)
	if !(hi.WireBytes < lo.WireBytes && hi.CPUUtil > lo.CPUUtil) {
		t.Errorf("compression: level 9 %+v vs level 1 %+v", hi, lo)
	}
	short := run(func(c *sim.Cluster) { _ = c.SetTimeout(msDuration(5)) }, 500)
	long := run(func(c *sim.Cluster) { _ = c.SetTimeout(msDuration(200)) }, 500)
	if !(short.FailedRounds > long.FailedRounds) {
		t.Errorf("timeout: 5 ms fails %v, 200 ms %v", short.FailedRounds, long.FailedRounds)
	}
	bold := run(func(c *sim.Cluster) { _ = c.SetConfidenceThreshold(0.5) }, 500)
	safe := run(func(c *sim.Cluster) { _ = c.SetConfidenceThreshold(0.99) }, 500)
	if !(bold.LossRate > safe.LossRate) {
		t.Errorf("confidence: 0.5 loses %v, 0.99 %v", bold.LossRate, safe.LossRate)
	}
}

func TestSettersRejectOutOfRange(t *testing.T) {
	c, _ := sim.NewCluster(sim.Config{Seed: 1})
	if c.SetCompressionLevel(10) == nil || c.SetChunkSize(0) == nil || c.SetPredictionWindow(0) == nil ||
		c.SetConfidenceThreshold(1) == nil || c.SetTimeout(0) == nil || c.SetBatchSize(-1) == nil {
		t.Fatal("out-of-range setting accepted")
	}
	if h, p, a := c.Settings(); h != integration.DefaultHDE() || p != integration.DefaultPBA() || a != integration.DefaultACP() {
		t.Fatal("a rejected setter changed the settings")
	}
}

func TestBadInput(t *testing.T) {
	if _, err := sim.NewCluster(sim.Config{MedianRPS: math.NaN()}); err == nil {
		t.Error("NaN median accepted")
	}
	if _, err := sim.NewCluster(sim.Config{SliceSeconds: -1}); err == nil {
		t.Error("negative slice accepted")
	}
	c, _ := sim.NewCluster(sim.Config{})
	if _, err := c.Step(math.NaN()); err == nil {
		t.Error("NaN rate accepted")
	}
	if _, _, err := c.Run(context.Background(), nil, nil); err == nil {
		t.Error("empty trace accepted")
	}
	for name, in := range map[string]string{
		"gap":      "timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,\n",
		"text":     "timestamp,value\n2014-01-01 00:00:00,abc\n",
		"negative": "timestamp,value\n2014-01-01 00:00:00,-4\n",
		"NaN":      "timestamp,value\n2014-01-01 00:00:00,NaN\n",
		"empty":    "timestamp,value\n",
	} {
		_, err := sim.ParseTrace(strings.NewReader(in), "t.csv")
		if err == nil || !strings.HasPrefix(err.Error(), "t.csv") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := sim.ScaleToMedian([]float64{0, 0, 0}, 10); err == nil {
		t.Error("zero median scaled")
	}
}

func FuzzParseTrace(f *testing.F) {
	f.Add("timestamp,value\n2014-04-10 00:04:00,94.0\n2014-04-10 00:09:00,56.0\n")
	f.Add("1\n2\n3\n")
	f.Add("timestamp,value\n,\n")
	f.Add("a,b,c\n1e400\n")
	f.Fuzz(func(t *testing.T, in string) {
		v, err := sim.ParseTrace(strings.NewReader(in), "fuzz.csv")
		if err != nil {
			if v != nil || !strings.HasPrefix(err.Error(), "fuzz.csv") {
				t.Fatalf("error %q (with %d values) does not name the input", err, len(v))
			}
			return
		}
		if len(v) == 0 {
			t.Fatal("no values and no error")
		}
		for _, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
				t.Fatalf("accepted %v", x)
			}
		}
	})
}

func TestComparisonJSONNullsUndefinedChange(t *testing.T) {
	c := sim.Comparison{Static: sim.Metrics{LatencyAvgMs: 10}, Tuned: sim.Metrics{LatencyAvgMs: 8, ErrorRate: 0.01}}
	c.ChangePct = sim.ChangePct(c.Static, c.Tuned)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, `"error_rate":null`) || !strings.Contains(s, `"latency_avg_ms":-20`) || !strings.Contains(s, `"utilization":0`) {
		t.Fatalf("%s", s)
	}
}
