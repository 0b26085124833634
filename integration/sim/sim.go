package sim

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/novacron/perfpredict/integration"
)

// Model constants; the package doc says what each one does.
const (
	PayloadBytes          = 64 << 10 // bytes per replicated write
	HDECores              = 4        // compression worker cores
	ChunkOverheadUs       = 25.0     // CPU per chunk: framing, checksum, send call, ack handling
	ChunkHeaderBytes      = 64       // wire bytes per chunk header
	MinChunkBytes         = 4 << 10  // chunk size at which ChunkContextLoss applies in full
	ChunkContextLoss      = 0.2      // share of the compression gain lost at MinChunkBytes
	LinkMbps              = 1000.0   // WAN link capacity
	BackgroundMin         = 0.1      // least cross-traffic share of the link
	BackgroundMax         = 0.6      // largest cross-traffic share
	BackgroundRegimeMeanS = 5.0      // mean seconds between cross-traffic regime changes
	BackgroundAR          = 0.9      // per-epoch AR(1) coefficient around the regime level
	BackgroundNoise       = 0.03     // per-epoch AR(1) innovation standard deviation
	PBAEpochMs            = 50.0     // bandwidth measurement and pacing period
	PBAMeasurementCV      = 0.15     // relative noise of one bandwidth measurement
	PBAMinRateShare       = 0.05     // pacing floor as a share of LinkMbps
	PBAMaxWindow          = 1024     // measurements kept
	MTUBytes              = 1448     // payload bytes per packet
	RetransmitTimeoutMs   = 25.0     // wait before a lost chunk is resent
	MaxRetransmitRounds   = 4        // resend rounds before a chunk is assumed through
	ClusterSize           = 5        // replicas, leader included
	ACPSlots              = 4        // consensus rounds the leader runs at once
	ACPBaseRTTMs          = 2.0      // leader-follower round trip without jitter
	ACPPerEntryUs         = 40.0     // follower time per batched entry
	ACPFollowerJitterMs   = 1.0      // mean exponential jitter per follower
	ACPJitterMedianMs     = 3.0      // median shared (leader-side) jitter on an idle link
	ACPJitterSigma        = 1.0      // log-normal sigma of the shared jitter
	ACPCongestionGain     = 2.0      // shared jitter median grows by this times link utilisation squared
	ACPMaxAttempts        = 3        // rounds tried before a batch fails
	BaseServiceMs         = 5.0      // application time outside the three stages
	RequestDeadlineMs     = 2000.0   // clients give up after this long
)

// The compressor's cost and ratio per level. Shapes follow zstd's levels
// 1..9 on replication deltas: cost grows about geometrically, ratio with
// diminishing returns. Unexported, read through the functions below, so the
// simulated engine is the same for every caller.
var (
	compressNsPerByte = [10]float64{0.15, 1.6, 2.2, 2.9, 4.0, 5.6, 7.8, 11, 16, 24}
	compressRatio     = [10]float64{1.0, 2.05, 2.25, 2.45, 2.55, 2.7, 2.8, 2.9, 2.97, 3.03}
)

// CompressNsPerByte returns the CPU cost per payload byte at levels 0..9
// (level 0 copies).
func CompressNsPerByte() [10]float64 { return compressNsPerByte }

// CompressRatio returns the compression ratio at levels 0..9 on the payload
// with chunks of at least PayloadBytes.
func CompressRatio() [10]float64 { return compressRatio }

// Config sets a run's seed and how the trace maps to simulated time.
type Config struct {
	Seed         uint64
	MedianRPS    float64 // the trace is scaled so its median is this; default 600
	SliceSeconds float64 // simulated seconds per trace interval; default 1
}

func (c Config) withDefaults() (Config, error) {
	if c.MedianRPS == 0 {
		c.MedianRPS = 600
	}
	if c.SliceSeconds == 0 {
		c.SliceSeconds = 1
	}
	if !(c.MedianRPS > 0) || math.IsInf(c.MedianRPS, 0) {
		return c, fmt.Errorf("sim: config.median_rps: must be positive, got %v", c.MedianRPS)
	}
	if !(c.SliceSeconds > 0) || c.SliceSeconds > 3600 {
		return c, fmt.Errorf("sim: config.slice_seconds: must be in (0, 3600], got %v", c.SliceSeconds)
	}
	return c, nil
}

// IntervalStats is the telemetry of one trace interval: what each
// component's tuner observes.
type IntervalStats struct {
	Index      int     `json:"index"`
	ArrivalRPS float64 `json:"arrival_rps"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	LatencyMs  float64 `json:"latency_ms"` // mean over successful requests
	// ThroughputRPS is successful requests per simulated second, ErrorRate
	// errors over arrivals.
	ThroughputRPS float64 `json:"throughput_rps"`
	ErrorRate     float64 `json:"error_rate"`
	// MemoryMiB is the replication buffer: the payload of requests between
	// arrival and commit, on average over the interval (Little's law: their
	// total time in the system over the interval's length).
	MemoryMiB float64 `json:"memory_mib"`

	HDE          integration.HDESettings `json:"hde"`
	TransferMs   float64                 `json:"transfer_ms"`       // arrival to end of network stage
	WireBytes    float64                 `json:"wire_bytes"`        // per request, retransmissions included
	Compression  float64                 `json:"compression_ratio"` // payload over compressed bytes, chunk headers excluded
	CPUUtil      float64                 `json:"cpu_utilization"`   // offered load on the HDE cores; above 1 when they cannot keep up
	PBA          integration.PBASettings `json:"pba"`
	NetMs        float64                 `json:"net_ms"`              // network stage time per request
	RetransmitMs float64                 `json:"retransmit_ms"`       // of which waiting for retransmissions
	Packets      float64                 `json:"packets_per_request"` // packets a request is sent in
	LossRate     float64                 `json:"loss_rate"`           // packet loss share while pacing above the available bandwidth, mean over epochs
	ResentShare  float64                 `json:"resent_share"`        // retransmitted bytes over bytes sent
	EstError     float64                 `json:"estimate_error"`
	BandwidthCV  float64                 `json:"bandwidth_cv"`  // variability of measured bandwidth
	MeasuredMbps float64                 `json:"measured_mbps"` // mean measured available bandwidth
	Measurements []float64               `json:"-"`             // PBA's bandwidth measurements this interval
	LinkUtil     float64                 `json:"link_utilization"`
	ACP          integration.ACPSettings `json:"acp"`
	CommitMs     float64                 `json:"commit_ms"`          // network end to commit
	FailedRounds float64                 `json:"failed_round_share"` // failed rounds over rounds
	ACPErrorRate float64                 `json:"acp_error_rate"`     // requests whose batch failed every attempt
	Rounds       int                     `json:"rounds"`
}

// Metrics are a run's summary, the rows of the before/after table.
type Metrics struct {
	LatencyAvgMs  float64 `json:"latency_avg_ms"`
	LatencyP95Ms  float64 `json:"latency_p95_ms"`
	LatencyP99Ms  float64 `json:"latency_p99_ms"`
	ThroughputRPS float64 `json:"throughput_rps"`
	ErrorRate     float64 `json:"error_rate"`
	Utilization   float64 `json:"utilization"`
}

// ChangePct is (after-before)/before in percent for every metric.
func ChangePct(before, after Metrics) Metrics {
	f := func(b, a float64) float64 {
		if b == 0 {
			if a == 0 {
				return 0
			}
			return math.Inf(1)
		}
		return 100 * (a - b) / b
	}
	return Metrics{f(before.LatencyAvgMs, after.LatencyAvgMs), f(before.LatencyP95Ms, after.LatencyP95Ms),
		f(before.LatencyP99Ms, after.LatencyP99Ms), f(before.ThroughputRPS, after.ThroughputRPS),
		f(before.ErrorRate, after.ErrorRate), f(before.Utilization, after.Utilization)}
}

// Controller sees every interval's telemetry and may change the cluster's
// settings through its engine setters before the next interval.
type Controller interface {
	AfterInterval(ctx context.Context, c *Cluster, st IntervalStats) error
}

// Cluster is the simulated cluster. It implements integration.HDEEngine,
// PBAEngine and ACPEngine; setters reject values outside the engines'
// ranges and keep the old setting.
type Cluster struct {
	// HDECPUFactor multiplies the compression CPU cost at a level: a stand-in
	// for a regression in one build of the engine, to exercise rollback.
	HDECPUFactor map[int]float64

	cfg Config
	hde integration.HDESettings
	pba integration.PBASettings
	acp integration.ACPSettings

	rngArr, rngBg, rngMeas, rngLoss, rngACP *rand.Rand

	now      float64 // start of the next interval, seconds
	coreFree floatHeap
	linkFree float64
	slotFree floatHeap

	// PBA and cross traffic, advanced one epoch at a time.
	epoch       int       // next epoch to compute
	bgLevel     float64   // regime level
	bg          float64   // current cross-traffic share
	regimeUntil float64   // seconds
	meas        []float64 // measurements, oldest first (at most PBAMaxWindow)
	rate, avail float64   // current epoch's paced and available Mbps
	epochErr    float64   // accumulated |rate-avail|/avail this interval
	epochLoss   float64   // accumulated packet loss share max(0, 1-avail/rate) this interval
	epochMeas   []float64 // this interval's measurements
	lastLink    float64   // previous interval's link utilisation

	intervals int
	// The summary's accumulators, over the intervals since the last
	// resetSummary (measured of them).
	measured  int
	latencies []float32
	success   int
	errors    int
	arrivals  int
	utilSum   float64
}

// NewCluster makes a cluster with the static default settings.
func NewCluster(cfg Config) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := cfg.Seed
	c := &Cluster{cfg: cfg, hde: integration.DefaultHDE(), pba: integration.DefaultPBA(), acp: integration.DefaultACP(),
		rngArr: rand.New(rand.NewPCG(s, 1)), rngBg: rand.New(rand.NewPCG(s, 2)), rngMeas: rand.New(rand.NewPCG(s, 3)),
		rngLoss: rand.New(rand.NewPCG(s, 4)), rngACP: rand.New(rand.NewPCG(s, 5))}
	c.coreFree = make(floatHeap, HDECores)
	c.slotFree = make(floatHeap, ACPSlots)
	c.bgLevel = BackgroundMin + (BackgroundMax-BackgroundMin)*c.rngBg.Float64()
	c.bg = c.bgLevel
	c.regimeUntil = c.rngBg.ExpFloat64() * BackgroundRegimeMeanS
	c.stepEpoch()
	return c, nil
}

// Settings returns the current settings.
func (c *Cluster) Settings() (integration.HDESettings, integration.PBASettings, integration.ACPSettings) {
	return c.hde, c.pba, c.acp
}

// SetCompressionLevel implements integration.HDEEngine.
func (c *Cluster) SetCompressionLevel(level int) error {
	s := c.hde
	s.CompressionLevel = level
	return setIf(&c.hde, s, integration.ValidateHDE(s))
}

// SetChunkSize implements integration.HDEEngine.
func (c *Cluster) SetChunkSize(bytes int) error {
	s := c.hde
	s.ChunkSize = bytes
	return setIf(&c.hde, s, integration.ValidateHDE(s))
}

// SetPredictionWindow implements integration.PBAEngine.
func (c *Cluster) SetPredictionWindow(n int) error {
	s := c.pba
	s.WindowSize = n
	return setIf(&c.pba, s, integration.ValidatePBA(s))
}

// SetConfidenceThreshold implements integration.PBAEngine.
func (c *Cluster) SetConfidenceThreshold(conf float64) error {
	s := c.pba
	s.Confidence = conf
	return setIf(&c.pba, s, integration.ValidatePBA(s))
}

// SetTimeout implements integration.ACPEngine.
func (c *Cluster) SetTimeout(d time.Duration) error {
	s := c.acp
	s.TimeoutMs = float64(d) / float64(time.Millisecond)
	return setIf(&c.acp, s, integration.ValidateACP(s))
}

// SetBatchSize implements integration.ACPEngine.
func (c *Cluster) SetBatchSize(n int) error {
	s := c.acp
	s.BatchSize = n
	return setIf(&c.acp, s, integration.ValidateACP(s))
}

func setIf[T any](dst *T, v T, err error) error {
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	*dst = v
	return nil
}

// ratio is the compression ratio for the current settings.
func ratio(s integration.HDESettings) float64 {
	ch := math.Min(float64(s.ChunkSize), PayloadBytes)
	f := 1.0
	if ch < PayloadBytes {
		f = 1 - ChunkContextLoss*math.Log2(PayloadBytes/ch)/math.Log2(PayloadBytes/MinChunkBytes)
	}
	return 1 + (compressRatio[s.CompressionLevel]-1)*f
}

// zQuantile is the standard normal quantile (Acklam's rational approximation
// refined enough for pacing).
func zQuantile(p float64) float64 {
	if p <= 0.5 {
		return 0
	}
	// Inverse via bisection on erf: cheap enough per epoch and exact to 1e-9.
	lo, hi := 0.0, 10.0
	for range 60 {
		mid := (lo + hi) / 2
		if 0.5*math.Erfc(-mid/math.Sqrt2) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// stepEpoch advances cross traffic and PBA by one epoch: the rate for epoch
// e uses measurements up to e-1.
func (c *Cluster) stepEpoch() {
	t := float64(c.epoch) * PBAEpochMs / 1000
	if t >= c.regimeUntil {
		c.bgLevel = BackgroundMin + (BackgroundMax-BackgroundMin)*c.rngBg.Float64()
		c.regimeUntil = t + c.rngBg.ExpFloat64()*BackgroundRegimeMeanS
	}
	c.bg = c.bgLevel + BackgroundAR*(c.bg-c.bgLevel) + BackgroundNoise*c.rngBg.NormFloat64()
	c.bg = math.Min(0.95, math.Max(0, c.bg))
	c.avail = LinkMbps * (1 - c.bg)

	// Pace from the window of past measurements.
	w := min(c.pba.WindowSize, len(c.meas))
	if w == 0 {
		c.rate = c.avail * 0.5
	} else {
		win := c.meas[len(c.meas)-w:]
		mean, sd := meanSD(win)
		c.rate = mean - zQuantile(c.pba.Confidence)*sd
	}
	c.rate = math.Min(LinkMbps, math.Max(PBAMinRateShare*LinkMbps, c.rate))
	c.epochErr += math.Abs(c.rate-c.avail) / c.avail
	c.epochLoss += math.Max(0, 1-c.avail/c.rate)

	m := c.avail * (1 + PBAMeasurementCV*c.rngMeas.NormFloat64())
	m = math.Max(1, m)
	if len(c.meas) == PBAMaxWindow {
		copy(c.meas, c.meas[1:])
		c.meas = c.meas[:PBAMaxWindow-1]
	}
	c.meas = append(c.meas, m)
	c.epochMeas = append(c.epochMeas, m)
	c.epoch++
}

// advanceTo computes epochs until the one containing t.
func (c *Cluster) advanceTo(t float64) {
	for float64(c.epoch)*PBAEpochMs/1000 <= t {
		c.stepEpoch()
	}
}

func meanSD(v []float64) (float64, float64) {
	if len(v) == 0 {
		return 0, 0
	}
	m := 0.0
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	if len(v) < 2 {
		return m, 0
	}
	s := 0.0
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return m, math.Sqrt(s / float64(len(v)-1))
}

type request struct {
	arrive, hdeDone, netDone, commit float64
	wire, resent, rtWait             float64
	failed                           bool
}

// Step simulates one trace interval at rate req/s with the current settings
// and returns its telemetry.
func (c *Cluster) Step(rps float64) (IntervalStats, error) {
	if !(rps >= 0) || math.IsInf(rps, 0) {
		return IntervalStats{}, fmt.Errorf("sim: interval %d: rate must be finite and non-negative, got %v", c.intervals, rps)
	}
	slice := c.cfg.SliceSeconds
	t0, t1 := c.now, c.now+slice
	st := IntervalStats{Index: c.intervals, ArrivalRPS: rps, HDE: c.hde, PBA: c.pba, ACP: c.acp}
	c.epochErr, c.epochLoss, c.epochMeas = 0, 0, c.epochMeas[:0]
	epoch0 := c.epoch

	var reqs []request
	if rps > 0 {
		for t := t0 + c.rngArr.ExpFloat64()/rps; t < t1; t += c.rngArr.ExpFloat64() / rps {
			reqs = append(reqs, request{arrive: t})
		}
	}
	n := len(reqs)

	// HDE: FCFS on HDECores cores.
	r := ratio(c.hde)
	comp := PayloadBytes / r
	chunk := float64(c.hde.ChunkSize)
	nChunks := math.Ceil(comp / chunk)
	chunkBytes := comp/nChunks + ChunkHeaderBytes
	svc := PayloadBytes*compressNsPerByte[c.hde.CompressionLevel]*1e-9 + nChunks*ChunkOverheadUs*1e-6
	if f, ok := c.HDECPUFactor[c.hde.CompressionLevel]; ok && f > 0 {
		svc *= f
	}
	busy := 0.0
	for i := range reqs {
		start := math.Max(reqs[i].arrive, c.coreFree[0])
		reqs[i].hdeDone = start + svc
		c.coreFree[0] = reqs[i].hdeDone
		heap.Fix(&c.coreFree, 0)
		busy += svc
	}
	st.CPUUtil = busy / (HDECores * slice) // offered: exceeds 1 when the cores cannot keep up

	// Network: FCFS on the paced link.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return reqs[order[a]].hdeDone < reqs[order[b]].hdeDone })
	packets := math.Ceil((chunkBytes - ChunkHeaderBytes) / MTUBytes)
	st.Packets = nChunks * packets
	sentBits := 0.0
	for _, i := range order {
		q := &reqs[i]
		start := math.Max(q.hdeDone, c.linkFree)
		c.advanceTo(start)
		bps := c.rate * 1e6
		loss := math.Max(0, 1-c.avail/c.rate)
		pChunk := 1 - math.Pow(1-loss, packets)
		q.wire = nChunks * chunkBytes
		send := q.wire * 8 / bps
		delay := 0.0
		remaining := int(nChunks)
		for round := 0; round < MaxRetransmitRounds && remaining > 0 && pChunk > 0; round++ {
			lost := 0
			for range remaining {
				if c.rngLoss.Float64() < pChunk {
					lost++
				}
			}
			if lost == 0 {
				break
			}
			q.resent += float64(lost) * chunkBytes
			send += float64(lost) * chunkBytes * 8 / bps
			delay += RetransmitTimeoutMs / 1000
			remaining = lost
		}
		c.linkFree = start + send
		q.netDone = c.linkFree + delay
		q.rtWait = delay
		sentBits += (q.wire + q.resent) * 8
	}
	c.advanceTo(t1)
	epochs := c.epoch - epoch0
	if epochs > 0 {
		st.EstError = c.epochErr / float64(epochs)
		st.LossRate = c.epochLoss / float64(epochs)
	}
	if len(c.epochMeas) == 0 {
		// The link ran ahead of this interval (a backlog): report the
		// latest measurements instead.
		c.epochMeas = append(c.epochMeas, c.meas[max(0, len(c.meas)-int(slice*1000/PBAEpochMs)-1):]...)
	}
	if m, sd := meanSD(c.epochMeas); m > 0 {
		st.BandwidthCV, st.MeasuredMbps = sd/m, m
	}
	if epochs > 0 {
		st.Measurements = append([]float64(nil), c.meas[len(c.meas)-min(epochs, len(c.meas)):]...)
	}
	availBits := 0.0
	for _, m := range c.epochMeas {
		availBits += m * 1e6 * PBAEpochMs / 1000
	}
	if availBits > 0 {
		st.LinkUtil = math.Min(1, sentBits/availBits)
	}

	// ACP: group commit over ACPSlots concurrent rounds.
	sort.SliceStable(order, func(a, b int) bool { return reqs[order[a]].netDone < reqs[order[b]].netDone })
	timeout := c.acp.TimeoutMs / 1000
	median := ACPJitterMedianMs * (1 + ACPCongestionGain*c.lastLink*c.lastLink) / 1000
	quorum := ClusterSize / 2
	var follow [ClusterSize - 1]float64
	rounds, failedRounds := 0, 0
	for i := 0; i < n; {
		start := math.Max(reqs[order[i]].netDone, c.slotFree[0])
		j := i + 1
		for j < n && j-i < c.acp.BatchSize && reqs[order[j]].netDone <= start {
			j++
		}
		entries := float64(j - i)
		t := start
		ok := false
		for range ACPMaxAttempts {
			rounds++
			for f := range follow {
				follow[f] = (ACPBaseRTTMs+ACPPerEntryUs*entries/1000)/1000 + c.rngACP.ExpFloat64()*ACPFollowerJitterMs/1000
			}
			sort.Float64s(follow[:])
			d := median*math.Exp(ACPJitterSigma*c.rngACP.NormFloat64()) + follow[quorum-1]
			if d <= timeout {
				t += d
				ok = true
				break
			}
			t += timeout
			failedRounds++
		}
		for k := i; k < j; k++ {
			q := &reqs[order[k]]
			q.commit, q.failed = t, !ok
		}
		c.slotFree[0] = t
		heap.Fix(&c.slotFree, 0)
		i = j
	}
	st.Rounds = rounds
	if rounds > 0 {
		st.FailedRounds = float64(failedRounds) / float64(rounds)
	}

	// Per-request outcomes.
	var sumLat, sumTransfer, sumNet, sumCommit, sumWire, sumResent, sumRT, sumStay float64
	ok := 0
	for i := range reqs {
		q := &reqs[i]
		lat := (q.commit-q.arrive)*1000 + BaseServiceMs
		sumTransfer += (q.netDone - q.arrive) * 1000
		sumNet += (q.netDone - q.hdeDone) * 1000
		sumCommit += (q.commit - q.netDone) * 1000
		sumWire += q.wire + q.resent
		sumResent += q.resent
		sumRT += q.rtWait * 1000
		sumStay += q.commit - q.arrive
		if q.failed {
			st.ACPErrorRate++
		}
		if q.failed || lat > RequestDeadlineMs {
			st.Errors++
			continue
		}
		ok++
		sumLat += lat
		c.latencies = append(c.latencies, float32(lat))
	}
	st.Requests = n
	if n > 0 {
		fn := float64(n)
		st.TransferMs, st.NetMs, st.CommitMs, st.WireBytes = sumTransfer/fn, sumNet/fn, sumCommit/fn, sumWire/fn
		st.RetransmitMs = sumRT / fn
		st.ResentShare = sumResent / sumWire
		st.ACPErrorRate /= fn
	}
	if ok > 0 {
		st.LatencyMs = sumLat / float64(ok)
	}
	st.ThroughputRPS = float64(ok) / slice
	if n > 0 {
		st.ErrorRate = float64(st.Errors) / float64(n)
	}
	st.Compression = r
	st.MemoryMiB = sumStay / slice * PayloadBytes / (1 << 20)
	c.success += ok
	c.errors += st.Errors
	c.arrivals += n
	c.utilSum += (math.Min(1, st.CPUUtil) + st.LinkUtil) / 2
	c.lastLink = st.LinkUtil
	c.intervals++
	c.measured++
	c.now = t1
	return st, nil
}

// resetSummary starts the summary afresh: the intervals before stay
// simulated (queues, tuners' learning) but are not reported.
func (c *Cluster) resetSummary() {
	c.measured, c.latencies, c.success, c.errors, c.arrivals, c.utilSum = 0, nil, 0, 0, 0, 0
}

// Summary is the run so far (since the split, for RunThree) as the
// before/after table's metrics.
func (c *Cluster) Summary() Metrics {
	var m Metrics
	if len(c.latencies) > 0 {
		s := append([]float32(nil), c.latencies...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		sum := 0.0
		for _, v := range s {
			sum += float64(v)
		}
		m.LatencyAvgMs = sum / float64(len(s))
		m.LatencyP95Ms = float64(s[min(len(s)-1, int(math.Ceil(0.95*float64(len(s))))-1)])
		m.LatencyP99Ms = float64(s[min(len(s)-1, int(math.Ceil(0.99*float64(len(s))))-1)])
	}
	if c.measured > 0 {
		m.ThroughputRPS = float64(c.success) / (float64(c.measured) * c.cfg.SliceSeconds)
		m.Utilization = c.utilSum / float64(c.measured)
	}
	if c.arrivals > 0 {
		m.ErrorRate = float64(c.errors) / float64(c.arrivals)
	}
	return m
}

// Run replays a trace (already in req/s) interval by interval, calling ctrl
// (which may be nil for static settings) after each, and returns the summary
// and every interval's telemetry.
func (c *Cluster) Run(ctx context.Context, rps []float64, ctrl Controller) (Metrics, []IntervalStats, error) {
	return c.runSplit(ctx, rps, ctrl, -1)
}

// floatHeap is a min-heap of free times.
type floatHeap []float64

func (h floatHeap) Len() int           { return len(h) }
func (h floatHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h floatHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *floatHeap) Push(x any)        { *h = append(*h, x.(float64)) }
func (h *floatHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}
