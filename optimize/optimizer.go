package optimize

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// DemandForecaster forecasts request demand (req/s) for the next horizon
// intervals: ForecastDemand (a trained forecast.Forecaster planning for its
// p90), StaticDemand (a fixed series) or anything else that forecasts.
type DemandForecaster interface {
	ForecastDemand(ctx context.Context, horizon int) ([]float64, error)
}

// StaticDemand is a forecast known in advance; it repeats cyclically when the
// horizon is longer.
type StaticDemand []float64

// ForecastDemand returns the first horizon values, repeating the series.
func (s StaticDemand) ForecastDemand(_ context.Context, horizon int) ([]float64, error) {
	if len(s) == 0 {
		return nil, errors.New("optimize: static demand is empty")
	}
	if horizon <= 0 {
		horizon = len(s)
	}
	out := make([]float64, horizon)
	for i := range out {
		out[i] = s[i%len(s)]
	}
	return out, nil
}

// Constraints bound an allocation. Zero values mean "no bound" except Zone,
// which is required.
type Constraints struct {
	MaxCostPerHour  float64        `json:"max_cost_per_hour,omitempty"`
	MaxCostPerMonth float64        `json:"max_cost_per_month,omitempty"` // both set: the tighter one binds
	MinPerformance  float64        `json:"min_performance"`              // share of forecast intervals meeting the SLO, [0,1]
	Zone            string         `json:"availability_zone"`
	MinInstances    int            `json:"min_instances,omitempty"`
	MaxInstances    int            `json:"max_instances,omitempty"`
	TypeLimits      map[string]int `json:"type_limits,omitempty"` // instance type -> most instances of it
}

// Validate reports the first constraint that is negative, NaN or inconsistent.
func (c Constraints) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"max_cost_per_hour", c.MaxCostPerHour}, {"max_cost_per_month", c.MaxCostPerMonth}, {"min_performance", c.MinPerformance}} {
		if !finiteNonNeg(f.v) {
			return fmt.Errorf("optimize: constraints.%s: must be a finite non-negative number, got %v", f.name, f.v)
		}
	}
	if c.MinPerformance > 1 {
		return fmt.Errorf("optimize: constraints.min_performance: is a share of intervals in [0,1], got %v", c.MinPerformance)
	}
	if strings.TrimSpace(c.Zone) == "" {
		return errors.New("optimize: constraints.availability_zone: missing")
	}
	if c.MinInstances < 0 || c.MaxInstances < 0 {
		return fmt.Errorf("optimize: constraints.min_instances/max_instances: must be non-negative, got %d/%d", c.MinInstances, c.MaxInstances)
	}
	if c.MaxInstances > 0 && c.MinInstances > c.MaxInstances {
		return fmt.Errorf("optimize: constraints.min_instances %d exceeds max_instances %d", c.MinInstances, c.MaxInstances)
	}
	for t, n := range c.TypeLimits {
		if n < 0 {
			return fmt.Errorf("optimize: constraints.type_limits[%q]: must be non-negative, got %d", t, n)
		}
	}
	return nil
}

// AllocationItem is a count of one instance type.
type AllocationItem struct {
	Type         string  `json:"type"`
	Count        int     `json:"count"`
	PricePerHour float64 `json:"price_per_hour"`
}

// Allocation is a set of instances with what it costs and delivers.
type Allocation struct {
	Items        []AllocationItem `json:"items"`
	VCPUs        int              `json:"vcpus"`
	MemoryGiB    float64          `json:"memory_gib"`
	NetworkGbps  float64          `json:"network_gbps"`
	CostPerHour  float64          `json:"cost_per_hour"`
	CostPerMonth float64          `json:"cost_per_month"`
	Performance  float64          `json:"performance"` // share of forecast intervals meeting the SLO
}

// String prints "2 x c6i.large + 1 x m6i.xlarge".
func (a *Allocation) String() string {
	if a == nil {
		return "<none>"
	}
	if len(a.Items) == 0 {
		return "no instances"
	}
	parts := make([]string, len(a.Items))
	for i, it := range a.Items {
		parts[i] = fmt.Sprintf("%d x %s", it.Count, it.Type)
	}
	return strings.Join(parts, " + ")
}

// Result is the optimiser's answer.
type Result struct {
	Allocation          *Allocation `json:"allocation"`
	ExpectedPerformance float64     `json:"expected_performance"`
	CostEstimate        float64     `json:"cost_estimate"` // USD per hour
	CostPerMonth        float64     `json:"cost_per_month"`
	Optimal             bool        `json:"optimal"`     // proven cheapest
	LowerBound          float64     `json:"lower_bound"` // no feasible allocation costs less (USD/h)
	Gap                 float64     `json:"gap"`         // CostEstimate - LowerBound, 0 when optimal
	Nodes               int         `json:"nodes"`       // branch-and-bound nodes visited
	Intervals           int         `json:"intervals"`   // forecast intervals evaluated
	RequiredIntervals   int         `json:"required_intervals"`
}

// InfeasibleError says no allocation meets every constraint, and carries the
// two nearest alternatives (nil when none exists).
type InfeasibleError struct {
	Reason string
	// CheapestMeetingPerformance is the cheapest allocation reaching the
	// performance floor, ignoring the budget.
	CheapestMeetingPerformance *Allocation
	// BestWithinBudget is the best-performing allocation within the budget
	// (cheapest among equals).
	BestWithinBudget *Allocation
}

func (e *InfeasibleError) Error() string {
	var b strings.Builder
	b.WriteString("optimize: infeasible: " + e.Reason)
	if a := e.CheapestMeetingPerformance; a != nil {
		fmt.Fprintf(&b, "; cheapest meeting the performance: %s at $%.4f/h", a, a.CostPerHour)
	}
	if a := e.BestWithinBudget; a != nil {
		fmt.Fprintf(&b, "; best within budget: %s, performance %.4f at $%.4f/h", a, a.Performance, a.CostPerHour)
	}
	return b.String()
}

// Optimizer finds the cheapest allocation meeting constraints for a demand
// forecast, by branch and bound over instance counts.
type Optimizer struct {
	Catalog    *Catalog
	Capacity   CapacityModel
	Forecaster DemandForecaster
	Horizon    int // forecast intervals; 0 lets the forecaster decide
	// NodeLimit and TimeLimit stop the search early; the result then reports
	// the gap to the best lower bound. Zero means 2,000,000 nodes / 10 s.
	NodeLimit int
	TimeLimit time.Duration
}

// OptimizeAllocation is the DWCP v3 design's optimize_allocation: it forecasts demand
// and returns the cheapest allocation meeting c.
func (o *Optimizer) OptimizeAllocation(ctx context.Context, c Constraints) (*Result, error) {
	if o.Forecaster == nil {
		return nil, errors.New("optimize: no demand forecaster")
	}
	demand, err := o.Forecaster.ForecastDemand(ctx, o.Horizon)
	if err != nil {
		return nil, fmt.Errorf("optimize: forecast: %w", err)
	}
	return o.Optimize(ctx, demand, c)
}

// problem is one search instance with everything precomputed.
type problem struct {
	names  []string
	vcpu   []float64
	mem    []float64
	net    []float64
	price  []float64
	upper  []int
	minI   int
	maxI   int     // < 0: none
	budget float64 // USD/h, +Inf: none
	minMem float64
	hpm    float64 // hours per month

	// Per-interval needs, sorted by vCPU need; unreachable intervals dropped.
	needV []float64
	needN []float64
	useN  bool
	total int // intervals in the forecast
	need  int // intervals that must be met

	// Suffix sums of the most each remaining type can add, and the cheapest
	// price per unit of each resource among the remaining types.
	sufV, sufM, sufN, sufCnt []float64
	pV, pM, pN, pI           []float64
	// gV[i] is the gcd of the vCPU sizes of types i.. (any vCPU they add is
	// a multiple of it); byV[i] and byN[i] list types i.. by vCPU and by
	// network, largest first, for the most an instance budget can add.
	gV       []int
	byV, byN [][]int

	nodeLimit int
	deadline  time.Time
	ctx       context.Context
}

// Optimize returns the cheapest allocation meeting c for the given demand
// (req/s per interval). An *InfeasibleError reports constraints nothing meets.
func (o *Optimizer) Optimize(ctx context.Context, demand []float64, c Constraints) (*Result, error) {
	p, err := o.newProblem(ctx, demand, c)
	if err != nil {
		return nil, err
	}
	target := p.need
	res := p.solve(target, p.budget)
	if res.best == nil {
		return nil, p.infeasible(target, res)
	}
	a := p.allocation(res.best, p.hpm)
	lb := math.Min(res.openLB, res.bestCost)
	r := &Result{
		Allocation: a, ExpectedPerformance: a.Performance, CostEstimate: a.CostPerHour, CostPerMonth: a.CostPerMonth,
		Optimal: !res.limited, LowerBound: lb, Gap: math.Max(0, res.bestCost-lb), Nodes: res.nodes,
		Intervals: p.total, RequiredIntervals: target,
	}
	if r.Optimal {
		r.LowerBound, r.Gap = res.bestCost, 0
	}
	return r, nil
}

func (o *Optimizer) newProblem(ctx context.Context, demand []float64, c Constraints) (*problem, error) {
	if o.Catalog == nil {
		return nil, errors.New("optimize: no catalogue")
	}
	if err := o.Catalog.Validate(); err != nil {
		return nil, fmt.Errorf("optimize: catalogue: %w", err)
	}
	if err := o.Capacity.Validate(); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if len(demand) == 0 {
		return nil, errors.New("optimize: empty demand forecast")
	}
	for i, d := range demand {
		if !finiteNonNeg(d) {
			return nil, fmt.Errorf("optimize: demand[%d]: must be a finite non-negative rate, got %v (a gap in the forecast?)", i, d)
		}
	}
	for name := range c.TypeLimits {
		if !o.hasType(name) {
			return nil, fmt.Errorf("optimize: constraints.type_limits: unknown instance type %q", name)
		}
	}
	hpm := o.Catalog.hoursPerMonth()
	p := &problem{minI: c.MinInstances, maxI: -1, budget: math.Inf(1), minMem: o.Capacity.MinMemoryGiB, hpm: hpm, ctx: ctx}
	if c.MaxInstances > 0 {
		p.maxI = c.MaxInstances
	}
	if c.MaxCostPerHour > 0 {
		p.budget = c.MaxCostPerHour
	}
	if c.MaxCostPerMonth > 0 {
		p.budget = math.Min(p.budget, c.MaxCostPerMonth/hpm)
	}

	// Per-interval needs.
	p.total = len(demand)
	p.useN = o.Capacity.BytesPerRequest > 0
	type need struct{ v, n float64 }
	var needs []need
	for _, d := range demand {
		v, err := o.Capacity.RequiredVCPUs(d)
		if errors.Is(err, errSLOUnreachable) {
			continue // no allocation meets the SLO in this interval
		}
		if err != nil {
			return nil, err
		}
		needs = append(needs, need{float64(v), o.Capacity.RequiredGbps(d)})
	}
	sort.Slice(needs, func(i, j int) bool { return needs[i].v < needs[j].v })
	for _, n := range needs {
		p.needV = append(p.needV, n.v)
		p.needN = append(p.needN, n.n)
	}
	p.need = int(math.Ceil(c.MinPerformance*float64(p.total) - 1e-9))

	// Types priced in the zone, cheapest per vCPU first so the first descent
	// finds a good incumbent.
	type cand struct {
		t     InstanceType
		price float64
	}
	var cands []cand
	for _, t := range o.Catalog.Types {
		if pr, ok := t.PricePerHr[c.Zone]; ok {
			cands = append(cands, cand{t, pr})
		}
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("optimize: constraints.availability_zone: unknown zone %q (catalogue zones: %s)", c.Zone, strings.Join(o.Catalog.Zones(), ", "))
	}
	sort.SliceStable(cands, func(i, j int) bool {
		return cands[i].price/float64(cands[i].t.VCPU) < cands[j].price/float64(cands[j].t.VCPU)
	})
	maxV, maxN := 0.0, 0.0
	for i := range p.needV {
		maxV = math.Max(maxV, p.needV[i])
		maxN = math.Max(maxN, p.needN[i])
	}
	for _, cd := range cands {
		t := cd.t
		// More instances of one type than it takes to cover every need alone
		// is never cheapest: dropping one keeps every constraint.
		u := p.minI
		u = max(u, int(math.Ceil(maxV/float64(t.VCPU))))
		if p.useN && maxN > 0 {
			if t.NetworkGbps > 0 {
				u = max(u, int(math.Ceil(maxN/t.NetworkGbps-1e-12)))
			}
		}
		if p.minMem > 0 && t.MemoryGiB > 0 {
			u = max(u, int(math.Ceil(p.minMem/t.MemoryGiB-1e-12)))
		}
		if p.maxI >= 0 {
			u = min(u, p.maxI)
		}
		if lim, ok := c.TypeLimits[t.Name]; ok {
			u = min(u, lim)
		}
		p.names = append(p.names, t.Name)
		p.vcpu = append(p.vcpu, float64(t.VCPU))
		p.mem = append(p.mem, t.MemoryGiB)
		p.net = append(p.net, t.NetworkGbps)
		p.price = append(p.price, cd.price)
		p.upper = append(p.upper, u)
	}
	k := len(p.names)
	p.sufV, p.sufM, p.sufN, p.sufCnt = make([]float64, k+1), make([]float64, k+1), make([]float64, k+1), make([]float64, k+1)
	p.pV, p.pM, p.pN, p.pI = make([]float64, k+1), make([]float64, k+1), make([]float64, k+1), make([]float64, k+1)
	p.pV[k], p.pM[k], p.pN[k], p.pI[k] = math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1)
	for i := k - 1; i >= 0; i-- {
		u := float64(p.upper[i])
		p.sufV[i] = p.sufV[i+1] + u*p.vcpu[i]
		p.sufM[i] = p.sufM[i+1] + u*p.mem[i]
		p.sufN[i] = p.sufN[i+1] + u*p.net[i]
		p.sufCnt[i] = p.sufCnt[i+1] + u
		p.pV[i], p.pM[i], p.pN[i], p.pI[i] = p.pV[i+1], p.pM[i+1], p.pN[i+1], p.pI[i+1]
		if p.upper[i] > 0 {
			p.pV[i] = math.Min(p.pV[i], p.price[i]/p.vcpu[i])
			if p.mem[i] > 0 {
				p.pM[i] = math.Min(p.pM[i], p.price[i]/p.mem[i])
			}
			if p.net[i] > 0 {
				p.pN[i] = math.Min(p.pN[i], p.price[i]/p.net[i])
			}
			p.pI[i] = math.Min(p.pI[i], p.price[i])
		}
	}
	p.gV = make([]int, k+1)
	p.byV, p.byN = make([][]int, k+1), make([][]int, k+1)
	for i := k - 1; i >= 0; i-- {
		p.gV[i] = p.gV[i+1]
		if p.upper[i] > 0 {
			p.gV[i] = gcd(p.gV[i], int(p.vcpu[i]))
		}
		for _, pair := range []struct {
			dst *[][]int
			key []float64
		}{{&p.byV, p.vcpu}, {&p.byN, p.net}} {
			idx := make([]int, 0, k-i)
			for j := i; j < k; j++ {
				idx = append(idx, j)
			}
			key := pair.key
			sort.SliceStable(idx, func(a, b int) bool { return key[idx[a]] > key[idx[b]] })
			(*pair.dst)[i] = idx
		}
	}
	p.nodeLimit = o.NodeLimit
	if p.nodeLimit <= 0 {
		p.nodeLimit = 2_000_000
	}
	tl := o.TimeLimit
	if tl <= 0 {
		tl = 10 * time.Second
	}
	p.deadline = time.Now().Add(tl)
	return p, nil
}

func (o *Optimizer) hasType(name string) bool {
	for _, t := range o.Catalog.Types {
		if t.Name == name {
			return true
		}
	}
	return false
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// mostAdded is the most of a resource (per-type amounts key) that at most
// budget more instances of types i.. can add: the largest first.
func (p *problem) mostAdded(order []int, key []float64, budget int) float64 {
	total := 0.0
	for _, j := range order {
		if budget <= 0 {
			break
		}
		take := min(p.upper[j], budget)
		total += float64(take) * key[j]
		budget -= take
	}
	return total
}

// met counts intervals an allocation with v vCPUs and n Gbps meets.
func (p *problem) met(v, n float64) int {
	// needV is sorted: only the prefix with needV <= v can be met.
	hi := sort.SearchFloat64s(p.needV, v+0.5)
	if !p.useN {
		return hi
	}
	cnt := 0
	for i := 0; i < hi; i++ {
		if p.needN[i] <= n+1e-12 {
			cnt++
		}
	}
	return cnt
}

// kthNeed is the least total of a resource that can meet target intervals: the
// target-th smallest need.
func kthNeed(needs []float64, target int) float64 {
	if target <= 0 {
		return 0
	}
	s := append([]float64(nil), needs...)
	sort.Float64s(s)
	return s[target-1]
}

type searchResult struct {
	best     []int
	bestCost float64
	openLB   float64 // least bound among nodes left unexplored by a limit
	limited  bool
	nodes    int
}

// solve runs depth-first branch and bound for the cheapest allocation meeting
// target intervals within budget (USD/h).
func (p *problem) solve(target int, budget float64) searchResult {
	r := searchResult{bestCost: math.Inf(1), openLB: math.Inf(1)}
	if target > len(p.needV) {
		return r // more intervals than any allocation can meet
	}
	reqV := kthNeed(p.needV, target)
	reqN := 0.0
	if p.useN {
		// Any target intervals met need at least the target-th smallest
		// network need too.
		reqN = kthNeed(p.needN, target)
	}
	k := len(p.names)
	x := make([]int, k)
	stopped := false
	var dfs func(i int, v, m, n, cnt, cost float64)
	dfs = func(i int, v, m, n, cnt, cost float64) {
		needV := pos(reqV - v)
		if g := float64(p.gV[i]); needV > 0 && g > 1 {
			needV = math.Ceil(needV/g-1e-9) * g // only whole instances add vCPUs
		}
		bound := cost + math.Max(math.Max(needV*p.pV[i], pos(p.minMem-m)*p.pM[i]),
			math.Max(pos(reqN-n)*p.pN[i], pos(float64(p.minI)-cnt)*p.pI[i]))
		if math.IsNaN(bound) { // 0 * Inf: nothing needed of a resource no type has
			bound = cost
		}
		if bound > budget*(1+1e-12) || bound >= r.bestCost-1e-12 {
			return
		}
		if stopped {
			r.openLB = math.Min(r.openLB, bound)
			return
		}
		r.nodes++
		if r.nodes >= p.nodeLimit || (r.nodes&1023 == 0 && (time.Now().After(p.deadline) || p.ctx.Err() != nil)) {
			stopped, r.limited = true, true
			r.openLB = math.Min(r.openLB, bound)
			return
		}
		// Optimistic feasibility: everything left at its maximum, or, under
		// an instance limit, the largest instances the limit leaves room for.
		addV, addN := p.sufV[i], p.sufN[i]
		if p.maxI >= 0 {
			room := p.maxI - int(cnt)
			addV = math.Min(addV, p.mostAdded(p.byV[i], p.vcpu, room))
			addN = math.Min(addN, p.mostAdded(p.byN[i], p.net, room))
		}
		if m+p.sufM[i] < p.minMem-1e-9 || cnt+p.sufCnt[i] < float64(p.minI) ||
			(p.maxI >= 0 && cnt > float64(p.maxI)) || p.met(v+addV, n+addN) < target {
			return
		}
		if i == k {
			if m >= p.minMem-1e-9 && cnt >= float64(p.minI) && p.met(v, n) >= target {
				r.best = append(r.best[:0], x...)
				r.bestCost = cost
			}
			return
		}
		hi := p.upper[i]
		if p.maxI >= 0 {
			hi = min(hi, p.maxI-int(cnt))
		}
		for c := hi; c >= 0; c-- {
			x[i] = c
			fc := float64(c)
			dfs(i+1, v+fc*p.vcpu[i], m+fc*p.mem[i], n+fc*p.net[i], cnt+fc, cost+fc*p.price[i])
		}
		x[i] = 0
	}
	dfs(0, 0, 0, 0, 0, 0)
	return r
}

func pos(v float64) float64 { return math.Max(0, v) }

func (p *problem) allocation(x []int, hoursPerMonth float64) *Allocation {
	a := &Allocation{Items: []AllocationItem{}}
	for i, c := range x {
		if c == 0 {
			continue
		}
		a.Items = append(a.Items, AllocationItem{Type: p.names[i], Count: c, PricePerHour: p.price[i]})
		a.VCPUs += c * int(p.vcpu[i])
		a.MemoryGiB += float64(c) * p.mem[i]
		a.NetworkGbps += float64(c) * p.net[i]
		a.CostPerHour += float64(c) * p.price[i]
	}
	sort.Slice(a.Items, func(i, j int) bool { return a.Items[i].Type < a.Items[j].Type })
	a.CostPerMonth = a.CostPerHour * hoursPerMonth
	a.Performance = float64(p.met(float64(a.VCPUs), a.NetworkGbps)) / float64(p.total)
	return a
}

// infeasible builds the typed error with both alternatives.
func (p *problem) infeasible(target int, first searchResult) error {
	hpm := p.hpm
	e := &InfeasibleError{}
	free := p.solve(target, math.Inf(1))
	if free.best != nil {
		e.CheapestMeetingPerformance = p.allocation(free.best, hpm)
	}
	// Best performance within budget: the largest target whose cheapest
	// allocation fits the budget (cost is monotone in the target).
	lo, hi := -1, target-1
	var best searchResult
	for lo < hi {
		mid := (lo + hi + 1) / 2
		s := p.solve(max(mid, 0), p.budget)
		if s.best != nil {
			lo, best = mid, s
		} else {
			hi = mid - 1
		}
	}
	if lo >= 0 && best.best != nil {
		e.BestWithinBudget = p.allocation(best.best, hpm)
	}
	switch {
	case free.best == nil && target > len(p.needV):
		e.Reason = fmt.Sprintf("min_performance needs %d of %d intervals but only %d can meet the SLO at any size", target, p.total, len(p.needV))
	case free.best == nil:
		e.Reason = fmt.Sprintf("no allocation within the instance limits meets %d of %d intervals", target, p.total)
	default:
		e.Reason = fmt.Sprintf("meeting %d of %d intervals costs $%.4f/h, over the budget of $%.4f/h", target, p.total, free.bestCost, p.budget)
	}
	if first.limited {
		e.Reason += " (search stopped at its limit; an allocation may exist)"
	}
	return e
}
