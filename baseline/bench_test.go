package baseline

import "testing"

// BenchmarkHoltWintersFit fits Holt-Winters (m = 288, joint estimation of
// the smoothing parameters and the 289 initial states) on the train and
// validation splits of a 4032-step NAB series.
func BenchmarkHoltWintersFit(b *testing.B) {
	s, err := LoadCSV("../testdata/nab/realKnownCause/ec2_request_latency_system_failure.csv", "")
	if err != nil {
		b.Fatal(err)
	}
	sp := SplitOf(s.Len())
	hist := s.Slice(0, sp.Fit())
	hw := NewHoltWinters(288)
	for b.Loop() {
		if err := hw.Fit(hist, sp.Train); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStandardEvaluate evaluates the five baselines at h = 1 and 12 on
// one 4032-step series, as perfpredict train does per series.
func BenchmarkStandardEvaluate(b *testing.B) {
	s, err := LoadCSV("../testdata/nab/realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv", "")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for _, f := range Standard(288, 12) {
			if _, err := EvaluateHorizons(s, f, 1, 12); err != nil {
				b.Fatal(err)
			}
		}
	}
}
