// Package optimize chooses cloud resources for a DWCP cluster: the cheapest
// allocation of instances that meets a performance floor for a forecast
// demand, under cost, zone and instance-count constraints.
//
// Data flow: a DemandForecaster (ForecastDemand: a trained forecaster's
// p90 from recent demand; or a fixed series) gives demand in req/s per
// interval over the horizon; the
// CapacityModel (fitted to metrics history by Calibrate) turns each
// interval's demand into the vCPUs and network bandwidth needed to meet the
// latency SLO, by M/M/c queueing (Erlang C); the Optimizer then searches
// instance counts of the Catalog's types priced in the requested zone by
// depth-first branch and bound. Its bound is the cost so far plus, for the
// most binding resource (vCPU, memory, network, instance count), the shortfall
// times the cheapest unit price among the types not yet fixed, with the vCPU
// shortfall rounded up to the gcd of the remaining sizes (whole instances
// only); a node is also cut when even the most the remaining types could add
// (within the instance limit, largest first) cannot reach the performance
// floor. Types are branched cheapest per vCPU first, counts high to low, so
// the first descent gives a good incumbent. The search is exact: an uncut tree proves the
// allocation cheapest (Result.Optimal); a node or time limit ends it early and
// the result reports the least bound left open and the gap. Constraints no
// allocation meets return *InfeasibleError, carrying the cheapest allocation
// that reaches the performance floor and the best-performing one within
// the budget.
//
// Performance is the share of forecast intervals whose mean response time
// meets the SLO (and whose traffic fits the network), so it is monotone in
// every instance count, which is what makes the optimistic cut valid.
//
// The embedded catalogue (DefaultCatalog) holds AWS c6i, m6i and r6i sizes
// with 2024 on-demand Linux list prices for us-east-1, us-west-2 and
// eu-west-1; they are illustrative list prices, not a quote. LoadCatalog
// reads a JSON override of the same shape.
package optimize
