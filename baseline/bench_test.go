package baseline

import (
	"testing"

	"github.com/novacron/perfpredict/features"
)

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

// BenchmarkLoadColumns reads the longest NAB file (22,695 rows) into
// series; its anchor, parse, is the parser alone (features.Load) on the
// same file in the same run, so the difference is the protocol's cost
// (the missing-value check, the stable sort, one Series per column).
func BenchmarkLoadColumns(b *testing.B) {
	const path = "../testdata/nab/realKnownCause/machine_temperature_system_failure.csv"
	b.Run("parse", func(b *testing.B) {
		rows := 0
		for b.Loop() {
			tb, _, err := features.Load(path, features.LoadOptions{})
			if err != nil {
				b.Fatal(err)
			}
			rows = tb.Len()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
	})
	b.Run("series", func(b *testing.B) {
		rows := 0
		for b.Loop() {
			ss, err := LoadColumns(path, nil)
			if err != nil {
				b.Fatal(err)
			}
			rows = ss[0].Len()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
	})
}
