package bench

import (
	"context"
	"testing"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// BenchmarkRetrain is the cost of one retrain of lifecycle.Pipeline with
// its default recipe: forecast.Train with DefaultOptions and NoTestSplit
// on one series of 30 days at 5 minutes (8640 points, the pipeline's
// default history; here the first 8640 of the shipped
// cpu_utilization_asg_misconfiguration). "networks" leaves the switch's
// trees out, "with-trees" is the default; their difference is what the
// trees add to a retrain. Each op trains a whole forecaster (minutes on
// two cores): run it with -benchtime=1x. Reports s/op.
func BenchmarkRetrain(b *testing.B) {
	ss, err := baseline.LoadColumns("../testdata/nab/realKnownCause/cpu_utilization_asg_misconfiguration.csv", nil)
	if err != nil {
		b.Fatal(err)
	}
	s := ss[0].Slice(0, 8640)
	for _, c := range []struct {
		name  string
		trees bool
	}{{"networks", false}, {"with-trees", true}} {
		b.Run(c.name, func(b *testing.B) {
			o := forecast.DefaultOptions()
			o.NoTestSplit = true
			if !c.trees {
				o.SwitchTrees = nil
			}
			for b.Loop() {
				fc, err := forecast.Train(context.Background(), []baseline.Series{s}, o)
				if err != nil {
					b.Fatal(err)
				}
				if got := fc.Info().SwitchTrees != nil; got != c.trees {
					b.Fatalf("switch trees trained: %v, want %v", got, c.trees)
				}
				fc.Close()
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/op")
			b.ReportMetric(0, "ns/op")
		})
	}
}
