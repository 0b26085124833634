package features

import (
	"math"
	"slices"
	"strings"
)

// Domain columns, added when the metrics they need are present (names after
// counters became rates; "x|y" means either name):
//
//	hde_compression_ratio       hde_bytes_in|hde_bytes_in_rate / hde_bytes_out|hde_bytes_out_rate;
//	                            the last ratio is held while nothing goes out (1 before any)
//	pba_prediction_accuracy     1 - |pba_predicted_bandwidth - pba_actual_bandwidth| / |pba_actual_bandwidth|,
//	                            clipped to [0, 1] (1 when both are 0)
//	acp_consensus_time_ms_mean  increase of acp_consensus_time_ms_total / increase of acp_consensus_rounds_total
//	                            per step (resets handled; held while no round completes, 0 before any)
//	network_io_bytes_rate       network_rx_bytes_rate + network_tx_bytes_rate (from the *_total counters)
//	network_rx_share            rx / (rx + tx), 0.5 when both are 0
//	<m>_trend_<win>             least-squares slope of m per minute over the trend window
//	                            (restarting after a gap), for utilisation-like metrics
//
// A domain column is skipped when a metric of the same name already exists.
type domainColumn struct {
	name   string
	values []float64
}

func domainColumns(g *Grid, p *plan, opt *Options) []domainColumn {
	var out []domainColumn
	have := map[string][]float64{}
	for m, name := range p.metrics {
		have[name] = p.base[m]
	}
	raw := map[string][]float64{}
	for m, name := range g.Names {
		raw[name] = g.Values[m]
	}
	pick := func(names ...string) []float64 {
		for _, n := range names {
			if v, ok := have[n]; ok {
				return v
			}
		}
		return nil
	}
	add := func(name string, v []float64) {
		if _, exists := have[name]; !exists {
			out = append(out, domainColumn{name, v})
		}
	}
	n := g.Len()
	if in, outb := pick("hde_bytes_in", "hde_bytes_in_rate"), pick("hde_bytes_out", "hde_bytes_out_rate"); in != nil && outb != nil {
		r := make([]float64, n)
		last := 1.0
		for i := range r {
			if outb[i] > 0 {
				last = in[i] / outb[i]
			}
			r[i] = last
		}
		add("hde_compression_ratio", r)
	}
	if pred, act := pick("pba_predicted_bandwidth"), pick("pba_actual_bandwidth"); pred != nil && act != nil {
		r := make([]float64, n)
		for i := range r {
			e := math.Abs(pred[i] - act[i])
			switch {
			case e == 0:
				r[i] = 1
			case act[i] == 0:
				r[i] = 0
			default:
				r[i] = math.Max(0, 1-e/math.Abs(act[i]))
			}
		}
		add("pba_prediction_accuracy", r)
	}
	if tt, rounds := raw["acp_consensus_time_ms_total"], raw["acp_consensus_rounds_total"]; tt != nil && rounds != nil {
		r := make([]float64, n)
		last := 0.0
		for i := 1; i < n; i++ {
			dt, dr := tt[i]-tt[i-1], rounds[i]-rounds[i-1]
			if dt < 0 || dr < 0 { // a reset: both restarted from zero
				dt, dr = tt[i], rounds[i]
			}
			if dr > 0 {
				last = dt / dr
			}
			r[i] = last
		}
		add("acp_consensus_time_ms_mean", r)
	}
	if rx, tx := pick("network_rx_bytes_rate"), pick("network_tx_bytes_rate"); rx != nil && tx != nil {
		sum := make([]float64, n)
		share := make([]float64, n)
		for i := range sum {
			sum[i] = rx[i] + tx[i]
			share[i] = 0.5
			if sum[i] != 0 {
				share[i] = rx[i] / sum[i]
			}
		}
		add("network_io_bytes_rate", sum)
		add("network_rx_share", share)
	}
	tw := opt.TrendWindow
	if tw <= 0 {
		tw = DefaultTrendWindow
	}
	w := capWindow(samplesFor(tw, g.Cadence), n)
	perMinute := float64(g.Cadence) / 6e10 // minutes per sample
	for m, name := range p.metrics {
		if !trendMetric(name, opt.TrendMetrics) {
			continue
		}
		tr := newTrendWindow(w)
		r := make([]float64, n)
		for i, y := range p.base[m] {
			if g.Break[i] {
				tr.reset()
			}
			tr.push(y)
			r[i] = tr.slope() / perMinute
		}
		add(name+"_trend_"+windowLabel(tw), r)
	}
	return out
}

// trendMetric reports whether metric name gets a trend column.
func trendMetric(name string, chosen []string) bool {
	if chosen != nil {
		return slices.Contains(chosen, name)
	}
	l := strings.ToLower(name)
	for _, k := range [...]string{"cpu", "mem", "disk", "util", "load"} {
		if strings.Contains(l, k) {
			return true
		}
	}
	return false
}
