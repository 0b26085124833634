//go:build !linux

package asm

// threadCPUNanos is unavailable here; benchmarks then report wall time only.
func threadCPUNanos() int64 { return -1 }
