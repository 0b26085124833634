package optimize_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/novacron/perfpredict/optimize"
)

func ExampleOptimizer() {
	o := &optimize.Optimizer{
		Catalog:    optimize.DefaultCatalog(),
		Capacity:   optimize.DefaultCapacity(), // 250 req/s per vCPU, 50 ms SLO
		Forecaster: optimize.StaticDemand{1200, 2847, 4100, 2600},
	}
	res, err := o.OptimizeAllocation(context.Background(), optimize.Constraints{
		MaxCostPerMonth: 10000, MinPerformance: 0.95, Zone: "us-east-1a",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: performance %.2f, $%.3f/h, optimal %v\n", res.Allocation, res.ExpectedPerformance, res.CostEstimate, res.Optimal)
	// Output:
	// 9 x c6i.large: performance 1.00, $0.765/h, optimal true
}

func ExampleInfeasibleError() {
	o := &optimize.Optimizer{Catalog: optimize.DefaultCatalog(), Capacity: optimize.DefaultCapacity()}
	_, err := o.Optimize(context.Background(), []float64{1000, 8000}, optimize.Constraints{
		MaxCostPerHour: 0.5, MinPerformance: 1, Zone: "eu-west-1a",
	})
	var ie *optimize.InfeasibleError
	if errors.As(err, &ie) {
		fmt.Println("cheapest meeting the floor:", ie.CheapestMeetingPerformance, ie.CheapestMeetingPerformance.CostPerHour)
		fmt.Println("best within budget:", ie.BestWithinBudget, ie.BestWithinBudget.Performance)
	}
	// Output:
	// cheapest meeting the floor: 17 x c6i.large 1.5504
	// best within budget: 3 x c6i.large 0.5
}

func ExampleCapacityModel() {
	m := optimize.DefaultCapacity()
	c, _ := m.RequiredVCPUs(2847)
	fmt.Printf("%d vCPUs for 2847 req/s, %.1f ms mean response\n", c, m.ResponseMs(c, 2847))
	// Output:
	// 12 vCPUs for 2847 req/s, 29.3 ms mean response
}
