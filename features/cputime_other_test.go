//go:build !unix

package features

import "time"

// processCPU is unknown here; benchmarks then report wall-clock figures only.
func processCPU() time.Duration { return 0 }
