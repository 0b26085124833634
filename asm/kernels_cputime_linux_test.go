package asm

import "golang.org/x/sys/unix"

// threadCPUNanos is the CPU time this OS thread has used, or -1. Benchmarks
// report it beside wall time because the shared test machine is often
// oversubscribed, which inflates wall time but not the time on a CPU.
func threadCPUNanos() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return -1
	}
	return ts.Nano()
}
