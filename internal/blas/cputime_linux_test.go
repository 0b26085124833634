package blas

import "golang.org/x/sys/unix"

// cpuTime is the CPU time this OS thread has used in nanoseconds, or -1.
// The shared machine is often oversubscribed, which inflates wall time but
// not the time on a CPU; callers lock the goroutine to its thread.
func cpuTime() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return -1
	}
	return ts.Nano()
}
