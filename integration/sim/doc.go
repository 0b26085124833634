// Package sim is a deterministic discrete-event simulator of a DWCP v3
// cluster, used to measure the integration tuners: the same trace and seed run
// once with static settings and once with tuners in the loop, and only their
// decisions differ.
//
// # Load
//
// A real load trace (NAB realAWSCloudwatch elb_request_count or
// ec2_network_in, one value per 5 minutes) is scaled so its median is
// Config.MedianRPS requests per second. Each trace interval is simulated for
// Config.SliceSeconds of simulated time with Poisson arrivals at the
// interval's rate; queues carry over from one interval to the next, so a
// trace of N intervals is N*SliceSeconds of continuous simulated time.
//
// # Request path
//
// Every request is a state-replication write of PayloadBytes. It passes
// three stages in order, each a first-come-first-served queue whose event
// times are computed exactly:
//
//  1. HDE compresses it on HDECores worker cores. Service time is
//     PayloadBytes*CompressNsPerByte[level] plus ChunkOverheadUs per chunk.
//     The compression ratio is 1 + (CompressRatio[level]-1)*f(chunk), where
//     f falls linearly in log2(chunk) from 1 at chunks >= PayloadBytes to
//     1-ChunkContextLoss at MinChunkBytes (small chunks give the compressor
//     less context). Each chunk adds ChunkHeaderBytes on the wire. Higher
//     levels trade CPU time for bytes on the wire.
//  2. PBA paces the WAN link. The link's available bandwidth is LinkMbps
//     times one minus a cross-traffic share that follows regimes (a new
//     level uniform in [BackgroundMin, BackgroundMax] every
//     BackgroundRegimeMeanS seconds on average, exponential) with AR(1)
//     noise (BackgroundAR, BackgroundNoise) per PBAEpochMs epoch. Each epoch
//     PBA measures the available bandwidth with relative noise
//     PBAMeasurementCV and paces the next epoch at mean - z(confidence)*sd
//     of its last window measurements (not below PBAMinRateShare*LinkMbps).
//     Sending above the available bandwidth loses the excess share of
//     packets (MTUBytes each); a chunk with a lost packet is resent whole
//     after RetransmitTimeoutMs, up to MaxRetransmitRounds. A long window
//     smooths measurement noise but reacts late to regime changes; a high
//     confidence avoids loss but leaves bandwidth unused.
//  3. ACP commits it through consensus among ClusterSize replicas. The
//     leader runs at most ACPSlots rounds at once; a free slot takes up to
//     batch-size waiting requests. A round needs acknowledgements from a
//     majority: its duration is a shared network jitter (log-normal, median
//     ACPJitterMedianMs growing by ACPCongestionGain times the squared link
//     utilisation, sigma ACPJitterSigma) plus the quorum-th fastest follower
//     (ACPBaseRTTMs + ACPPerEntryUs per entry + exponential jitter of mean
//     ACPFollowerJitterMs). A round longer than the timeout fails after the
//     timeout and is retried; after ACPMaxAttempts failures its requests
//     fail. A short timeout cuts the jitter's tail but fails rounds; large
//     batches amortise slots but lengthen rounds.
//
// A request's latency is BaseServiceMs plus the time from its arrival to its
// commit. Requests that fail in ACP or take longer than RequestDeadlineMs are
// errors.
//
// # Reported figures
//
// Latency average, p95 and p99 over successful requests; throughput as
// successful requests per simulated second; error rate as errors over
// arrivals; utilisation as the mean of the HDE cores' busy share (capped at
// 1) and the WAN link's busy share (bytes sent over available bandwidth),
// averaged over intervals.
//
// # Telemetry
//
// After each interval the Cluster reports IntervalStats, what each
// component's engine would measure: HDE its transfer latency, bytes on the
// wire and offered CPU load (above 1 when the cores fall behind); PBA its
// network-stage delay, the part of it spent waiting on retransmissions, its
// loss share, its bandwidth measurements and what it sends (packets per
// request, PBAEpochMs, RetransmitTimeoutMs, MaxRetransmitRounds;
// IntervalStats.PBATelemetry offers the first transmissions as the load, not
// the retransmissions the settings in effect caused); ACP its commit
// latency, failed round share and given-up commits. Tuners (the Controller)
// change settings only through the engine setters, so the static and tuned
// runs differ in nothing but those calls. HDECPUFactor injects a regression
// into one compression level, to exercise rollback.
//
// Random streams (arrivals, cross traffic, measurement noise, loss, consensus
// jitter) are separate generators seeded from Config.Seed, so two runs with
// different settings see the same arrivals and the same cross traffic.
package sim
