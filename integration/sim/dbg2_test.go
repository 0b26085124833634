package sim_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/novacron/perfpredict/integration"
	"github.com/novacron/perfpredict/integration/sim"
)

func TestDbgOne(t *testing.T) {
	tr, _ := sim.LoadTrace("../../testdata/nab/realAWSCloudwatch/elb_request_count_8c0756.csv")
	rps, _ := sim.ScaleToMedian(tr, 600)
	for _, which := range []string{"none", "HDE", "PBA", "ACP"} {
		c, _ := sim.NewCluster(sim.Config{Seed: 1})
		all, _ := sim.NewTuners(c, sim.DefaultTargets(), integration.Options{})
		tu := &sim.Tuners{}
		switch which {
		case "HDE":
			tu.HDE = all.HDE
		case "PBA":
			tu.PBA = all.PBA
		case "ACP":
			tu.ACP = all.ACP
		}
		m, _, _ := c.Run(context.Background(), rps, tu)
		fmt.Printf("%s %+v\n", which, m)
	}
}
