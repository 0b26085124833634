package sim_test

import "time"

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
