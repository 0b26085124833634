package optimize

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// randomCatalog makes a small catalogue of k types in zone "z".
func randomCatalog(rng *rand.Rand, k int) *Catalog {
	c := &Catalog{}
	for i := range k {
		v := 1 << rng.IntN(4)
		c.Types = append(c.Types, InstanceType{
			Name: string(rune('a' + i)), VCPU: v,
			MemoryGiB:   float64(v) * float64(1+rng.IntN(8)),
			NetworkGbps: float64(v) * (0.2 + rng.Float64()),
			PricePerHr:  map[string]float64{"z": math.Round(float64(v)*(0.03+0.1*rng.Float64())*1e4) / 1e4, "other": 1},
		})
	}
	return c
}

// bruteForce enumerates every count vector within the bounds and returns the
// cheapest feasible cost (+Inf when none).
func bruteForce(o *Optimizer, demand []float64, c Constraints, maxEach int) (float64, []int) {
	best, x, _, _ := bruteForceAll(o, demand, c, maxEach)
	return best, x
}

// bruteForceAll also returns the most intervals any allocation within the
// budget meets, and the cheapest cost among those that do.
func bruteForceAll(o *Optimizer, demand []float64, c Constraints, maxEach int) (float64, []int, int, float64) {
	bestMet, bestMetCost := -1, math.Inf(1)
	var types []InstanceType
	for _, t := range o.Catalog.Types {
		if _, ok := t.PricePerHr[c.Zone]; ok {
			types = append(types, t)
		}
	}
	need := int(math.Ceil(c.MinPerformance*float64(len(demand)) - 1e-9))
	budget := math.Inf(1)
	if c.MaxCostPerHour > 0 {
		budget = c.MaxCostPerHour
	}
	if c.MaxCostPerMonth > 0 {
		budget = math.Min(budget, c.MaxCostPerMonth/o.Catalog.hoursPerMonth())
	}
	best, bestX := math.Inf(1), []int(nil)
	x := make([]int, len(types))
	var rec func(i int)
	rec = func(i int) {
		if i == len(types) {
			v, mem, net, cost, cnt := 0, 0.0, 0.0, 0.0, 0
			for j, t := range types {
				v += x[j] * t.VCPU
				mem += float64(x[j]) * t.MemoryGiB
				net += float64(x[j]) * t.NetworkGbps
				cost += float64(x[j]) * t.PricePerHr[c.Zone]
				cnt += x[j]
			}
			if cnt < c.MinInstances || (c.MaxInstances > 0 && cnt > c.MaxInstances) || cost > budget || mem < o.Capacity.MinMemoryGiB {
				return
			}
			met := 0
			for _, d := range demand {
				nv, err := o.Capacity.RequiredVCPUs(d)
				if err == nil && nv <= v && o.Capacity.RequiredGbps(d) <= net+1e-12 {
					met++
				}
			}
			if met > bestMet || (met == bestMet && cost < bestMetCost) {
				bestMet, bestMetCost = met, cost
			}
			if met >= need && cost < best {
				best, bestX = cost, append([]int(nil), x...)
			}
			return
		}
		lim := maxEach
		if l, ok := c.TypeLimits[types[i].Name]; ok {
			lim = min(lim, l)
		}
		for n := 0; n <= lim; n++ {
			x[i] = n
			rec(i + 1)
		}
		x[i] = 0
	}
	rec(0)
	return best, bestX, bestMet, bestMetCost
}

func TestOptimizerMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	feasible, infeasible := 0, 0
	for trial := range 300 {
		k := 2 + rng.IntN(3)
		cat := randomCatalog(rng, k)
		capm := CapacityModel{ServiceRate: 50 + 100*rng.Float64(), BaseLatencyMs: 5, SLOMs: 40 + 40*rng.Float64(),
			BytesPerRequest: float64(rng.IntN(2)) * 20000, MaxNetworkUtilization: 0.8, MinMemoryGiB: float64(rng.IntN(3)) * 8}
		demand := make([]float64, 6+rng.IntN(10))
		for i := range demand {
			demand[i] = 400 * rng.Float64()
		}
		c := Constraints{Zone: "z", MinPerformance: rng.Float64(), MaxInstances: 7, MinInstances: rng.IntN(3)}
		if rng.IntN(2) == 0 {
			c.MaxCostPerHour = 0.05 + 1.5*rng.Float64()
		} else {
			c.MaxCostPerMonth = 730 * (0.05 + 1.5*rng.Float64())
		}
		if rng.IntN(3) == 0 {
			c.TypeLimits = map[string]int{cat.Types[0].Name: rng.IntN(3)}
		}
		o := &Optimizer{Catalog: cat, Capacity: capm}
		want, wantX := bruteForce(o, demand, c, 7)
		res, err := o.Optimize(context.Background(), demand, c)
		if math.IsInf(want, 1) {
			var ie *InfeasibleError
			if !errors.As(err, &ie) {
				t.Fatalf("trial %d: brute force finds nothing, optimiser returned %v, %v", trial, res, err)
			}
			// The best within budget matches brute force's best performance
			// and its cost; the cheapest meeting the floor matches brute force
			// without a budget.
			_, _, met, metCost := bruteForceAll(o, demand, c, 7)
			if met < 0 {
				if ie.BestWithinBudget != nil {
					t.Fatalf("trial %d: nothing fits the budget, optimiser says %v", trial, ie.BestWithinBudget)
				}
			} else if b := ie.BestWithinBudget; b == nil || math.Abs(b.Performance-float64(met)/float64(len(demand))) > 1e-12 || math.Abs(b.CostPerHour-metCost) > 1e-9 {
				t.Fatalf("trial %d: best within budget %+v, brute force %d intervals at %v", trial, b, met, metCost)
			}
			free := c
			free.MaxCostPerHour, free.MaxCostPerMonth = 0, 0
			want2, _ := bruteForce(o, demand, free, 7)
			if a := ie.CheapestMeetingPerformance; (a == nil) != math.IsInf(want2, 1) || (a != nil && math.Abs(a.CostPerHour-want2) > 1e-9) {
				t.Fatalf("trial %d: cheapest meeting performance %+v, brute force %v", trial, a, want2)
			}
			infeasible++
			continue
		}
		if err != nil {
			t.Fatalf("trial %d: brute force cost %v (%v), optimiser error %v", trial, want, wantX, err)
		}
		if !res.Optimal || math.Abs(res.CostEstimate-want) > 1e-9 {
			t.Fatalf("trial %d: optimiser %v at %v (optimal %v), brute force %v (%v)", trial, res.Allocation, res.CostEstimate, res.Optimal, want, wantX)
		}
		checkRespects(t, o, res.Allocation, c, demand)
		feasible++
	}
	t.Logf("%d feasible cases matched brute force's cost, %d infeasible matched both alternatives", feasible, infeasible)
	if feasible < 30 || infeasible < 10 {
		t.Fatalf("too few cases of each kind: %d feasible, %d infeasible", feasible, infeasible)
	}
}

// checkRespects verifies every constraint on an allocation independently.
func checkRespects(t *testing.T, o *Optimizer, a *Allocation, c Constraints, demand []float64) {
	t.Helper()
	cnt := 0
	for _, it := range a.Items {
		cnt += it.Count
		if l, ok := c.TypeLimits[it.Type]; ok && it.Count > l {
			t.Fatalf("%s: %d over its limit %d", it.Type, it.Count, l)
		}
	}
	if cnt < c.MinInstances || (c.MaxInstances > 0 && cnt > c.MaxInstances) {
		t.Fatalf("%d instances outside [%d,%d]", cnt, c.MinInstances, c.MaxInstances)
	}
	if c.MaxCostPerHour > 0 && a.CostPerHour > c.MaxCostPerHour+1e-9 {
		t.Fatalf("cost %v over %v/h", a.CostPerHour, c.MaxCostPerHour)
	}
	if c.MaxCostPerMonth > 0 && a.CostPerMonth > c.MaxCostPerMonth+1e-6 {
		t.Fatalf("cost %v over %v/month", a.CostPerMonth, c.MaxCostPerMonth)
	}
	met := 0
	for _, d := range demand {
		if o.Capacity.ResponseMs(a.VCPUs, d) <= o.Capacity.SLOMs && o.Capacity.RequiredGbps(d) <= a.NetworkGbps+1e-12 {
			met++
		}
	}
	if perf := float64(met) / float64(len(demand)); perf < c.MinPerformance-1e-12 || math.Abs(perf-a.Performance) > 1e-12 {
		t.Fatalf("performance %v (reported %v) below %v", perf, a.Performance, c.MinPerformance)
	}
}

func TestInfeasibleReportsBothAlternatives(t *testing.T) {
	o := &Optimizer{Catalog: DefaultCatalog(), Capacity: DefaultCapacity()}
	demand := []float64{1000, 2000, 4000, 8000, 16000}
	_, err := o.Optimize(context.Background(), demand, Constraints{Zone: "us-east-1a", MinPerformance: 1, MaxCostPerHour: 1})
	var ie *InfeasibleError
	if !errors.As(err, &ie) {
		t.Fatalf("want *InfeasibleError, got %v", err)
	}
	a, b := ie.CheapestMeetingPerformance, ie.BestWithinBudget
	if a == nil || b == nil {
		t.Fatalf("missing alternative: %v", err)
	}
	if a.Performance < 1 || a.CostPerHour <= 1 {
		t.Fatalf("cheapest meeting performance: %+v", a)
	}
	if b.CostPerHour > 1 || b.Performance >= 1 || b.Performance < 0.4 {
		t.Fatalf("best within budget: %+v", b)
	}
	// No cheaper allocation than b reaches more than b's performance: raise
	// the floor by one interval and the budget must break.
	_, err = o.Optimize(context.Background(), demand, Constraints{Zone: "us-east-1a", MinPerformance: b.Performance + 0.2, MaxCostPerHour: 1})
	if !errors.As(err, &ie) {
		t.Fatalf("performance above the best within budget is feasible: %v", err)
	}
	// And a's cost is the cheapest for full performance.
	res, err := o.Optimize(context.Background(), demand, Constraints{Zone: "us-east-1a", MinPerformance: 1})
	if err != nil || math.Abs(res.CostEstimate-a.CostPerHour) > 1e-9 {
		t.Fatalf("unbudgeted optimum %v, %v; infeasible error said %v", res, err, a.CostPerHour)
	}
	if ie.Error() == "" {
		t.Fatal("empty message")
	}
}

func TestInfeasibleUnreachableSLO(t *testing.T) {
	capm := DefaultCapacity()
	capm.SLOMs = 10 // below the 24 ms unloaded response time
	o := &Optimizer{Catalog: DefaultCatalog(), Capacity: capm}
	_, err := o.Optimize(context.Background(), []float64{100, 200}, Constraints{Zone: "us-east-1a", MinPerformance: 0.5})
	var ie *InfeasibleError
	if !errors.As(err, &ie) || ie.CheapestMeetingPerformance != nil || ie.BestWithinBudget == nil {
		t.Fatalf("want infeasible with only a within-budget alternative, got %v", err)
	}
}

func TestNodeLimitReportsGap(t *testing.T) {
	demand := []float64{3000, 9000, 20000, 35000}
	c := Constraints{Zone: "us-east-1a", MinPerformance: 1, MinInstances: 3}
	full, err := (&Optimizer{Catalog: DefaultCatalog(), Capacity: DefaultCapacity()}).Optimize(context.Background(), demand, c)
	if err != nil || !full.Optimal || full.Gap != 0 || full.LowerBound != full.CostEstimate {
		t.Fatalf("full search: %+v %v", full, err)
	}
	limited := 0
	for _, limit := range []int{2, 3, 5, 10, 20} {
		res, err := (&Optimizer{Catalog: DefaultCatalog(), Capacity: DefaultCapacity(), NodeLimit: limit}).Optimize(context.Background(), demand, c)
		var ie *InfeasibleError
		if errors.As(err, &ie) {
			continue // no incumbent yet at this limit
		}
		if err != nil {
			t.Fatal(err)
		}
		if res.Optimal {
			continue
		}
		limited++
		if res.LowerBound > full.CostEstimate+1e-9 || res.CostEstimate < full.CostEstimate-1e-9 {
			t.Fatalf("limit %d: bound %v / incumbent %v do not bracket the optimum %v", limit, res.LowerBound, res.CostEstimate, full.CostEstimate)
		}
		if math.Abs(res.Gap-(res.CostEstimate-res.LowerBound)) > 1e-12 || res.Gap < 0 {
			t.Fatalf("limit %d: gap %v", limit, res.Gap)
		}
	}
	if limited == 0 {
		t.Fatal("no node limit left the search unproven; the gap path went untested")
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	o := &Optimizer{Catalog: DefaultCatalog(), Capacity: DefaultCapacity()}
	good := []float64{100}
	cases := []struct {
		name   string
		o      *Optimizer
		demand []float64
		c      Constraints
	}{
		{"negative cost", o, good, Constraints{Zone: "us-east-1a", MaxCostPerHour: -1}},
		{"NaN performance", o, good, Constraints{Zone: "us-east-1a", MinPerformance: math.NaN()}},
		{"performance above 1", o, good, Constraints{Zone: "us-east-1a", MinPerformance: 1.5}},
		{"Inf month", o, good, Constraints{Zone: "us-east-1a", MaxCostPerMonth: math.Inf(1)}},
		{"unknown zone", o, good, Constraints{Zone: "mars-1a"}},
		{"no zone", o, good, Constraints{}},
		{"min over max", o, good, Constraints{Zone: "us-east-1a", MinInstances: 5, MaxInstances: 2}},
		{"unknown type limit", o, good, Constraints{Zone: "us-east-1a", TypeLimits: map[string]int{"x1.huge": 1}}},
		{"negative type limit", o, good, Constraints{Zone: "us-east-1a", TypeLimits: map[string]int{"c6i.large": -1}}},
		{"empty catalogue", &Optimizer{Catalog: &Catalog{}, Capacity: DefaultCapacity()}, good, Constraints{Zone: "z"}},
		{"nil catalogue", &Optimizer{Capacity: DefaultCapacity()}, good, Constraints{Zone: "z"}},
		{"bad capacity", &Optimizer{Catalog: DefaultCatalog()}, good, Constraints{Zone: "us-east-1a"}},
		{"empty demand", o, nil, Constraints{Zone: "us-east-1a"}},
		{"NaN demand", o, []float64{1, math.NaN()}, Constraints{Zone: "us-east-1a"}},
		{"negative demand", o, []float64{-1}, Constraints{Zone: "us-east-1a"}},
	}
	for _, tc := range cases {
		res, err := tc.o.Optimize(ctx, tc.demand, tc.c)
		if err == nil {
			t.Errorf("%s: no error, got %+v", tc.name, res)
			continue
		}
		var ie *InfeasibleError
		if errors.As(err, &ie) {
			t.Errorf("%s: bad input reported as infeasible: %v", tc.name, err)
		}
	}
	if _, err := o.OptimizeAllocation(ctx, Constraints{Zone: "us-east-1a"}); err == nil {
		t.Error("no forecaster: no error")
	}
}

func TestUnknownZoneNamesZones(t *testing.T) {
	o := &Optimizer{Catalog: DefaultCatalog(), Capacity: DefaultCapacity()}
	_, err := o.Optimize(context.Background(), []float64{1}, Constraints{Zone: "mars-1a"})
	if err == nil || !contains(err.Error(), "mars-1a") || !contains(err.Error(), "us-east-1a") {
		t.Fatalf("error should name the zone and the known ones: %v", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
