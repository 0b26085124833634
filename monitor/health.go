package monitor

import (
	"math"
	"sort"
	"sync"
	"time"
)

// HealthConfig sizes the rolling windows.
type HealthConfig struct {
	// Window is the span of the rolling error and latency figures (24h:
	// one day, as the daily MAPE).
	Window time.Duration
	// Slot is the granularity the window slides by.
	Slot time.Duration
	// RateWindow is the span predictions per second is measured over (a
	// whole number of slots).
	RateWindow time.Duration
	// Days is how many per-day MAPE figures are kept.
	Days int
}

// DefaultHealthConfig is a 24h window in 1-minute slots, rate over 1 minute,
// 90 days. A function, so no caller can change the defaults of every Health.
func DefaultHealthConfig() HealthConfig {
	return HealthConfig{Window: 24 * time.Hour, Slot: time.Minute, RateWindow: time.Minute, Days: 90}
}

// Latency histogram buckets: upper bounds from 1µs growing by sqrt(2) to
// about 67s, so a percentile read from them is within ~20% before
// interpolation.
var latencyBounds = func() []float64 {
	var b []float64
	for v := 1e-6; v < 70; v *= math.Sqrt2 {
		b = append(b, v)
	}
	return b
}()

// LatencyBounds returns the histogram's bucket upper bounds in seconds (the
// last bucket, above them, is unbounded).
func LatencyBounds() []float64 { return append([]float64(nil), latencyBounds...) }

type slot struct {
	idx              int64 // which slot of time this is; stale when != current
	nErr, nAcc5      int
	sumAPE           float64
	nAPE             int
	sumAbs           float64
	nPred, nFallback int
	lat              []uint64
	latSum           float64
}

// Health keeps rolling health figures of a served model. It is safe for
// concurrent use; Observe* are cheap enough for the serving path.
type Health struct {
	mu    sync.Mutex
	cfg   HealthConfig
	slots []slot
	days  map[int64]*dayAcc
	// Cumulative figures since start, for Prometheus counters.
	cumLat      []uint64
	cumLatSum   float64
	cumPred     uint64
	cumFallback uint64
}

type dayAcc struct {
	sumAPE float64
	n      int
}

// NewHealth makes a Health; zero fields of cfg take DefaultHealthConfig's.
func NewHealth(cfg HealthConfig) *Health {
	d := DefaultHealthConfig()
	if cfg.Window <= 0 {
		cfg.Window = d.Window
	}
	if cfg.Slot <= 0 {
		cfg.Slot = d.Slot
	}
	if cfg.RateWindow < cfg.Slot {
		cfg.RateWindow = cfg.Slot
	}
	if cfg.Days <= 0 {
		cfg.Days = d.Days
	}
	n := int((cfg.Window + cfg.Slot - 1) / cfg.Slot)
	h := &Health{cfg: cfg, slots: make([]slot, n), days: map[int64]*dayAcc{}, cumLat: make([]uint64, len(latencyBounds)+1)}
	for i := range h.slots {
		h.slots[i].idx = math.MinInt64
		h.slots[i].lat = make([]uint64, len(latencyBounds)+1)
	}
	return h
}

func (h *Health) slotAt(t time.Time) *slot {
	idx := t.UnixNano() / int64(h.cfg.Slot)
	s := &h.slots[int(((idx%int64(len(h.slots)))+int64(len(h.slots)))%int64(len(h.slots)))]
	if s.idx != idx {
		lat := s.lat
		clear(lat)
		*s = slot{idx: idx, lat: lat}
	}
	return s
}

// ObserveError records a forecast against its actual value (original units).
func (h *Health) ObserveError(t time.Time, predicted, actual float64) {
	if math.IsNaN(predicted) || math.IsNaN(actual) || math.IsInf(predicted, 0) || math.IsInf(actual, 0) {
		return
	}
	e := math.Abs(predicted - actual)
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.slotAt(t)
	s.nErr++
	s.sumAbs += e
	if e <= 0.05*math.Abs(actual) {
		s.nAcc5++
	}
	if math.Abs(actual) > 1e-9 {
		ape := 100 * e / math.Abs(actual)
		s.sumAPE += ape
		s.nAPE++
		day := t.UTC().Unix() / 86400
		da := h.days[day]
		if da == nil {
			da = &dayAcc{}
			h.days[day] = da
			for d := range h.days {
				if d <= day-int64(h.cfg.Days) {
					delete(h.days, d)
				}
			}
		}
		da.sumAPE += ape
		da.n++
	}
}

// ObservePrediction records one served prediction: how long it took and
// whether the fallback forecaster answered instead of the model.
func (h *Health) ObservePrediction(t time.Time, latency time.Duration, fallback bool) {
	sec := latency.Seconds()
	b := sort.SearchFloat64s(latencyBounds, sec)
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.slotAt(t)
	s.nPred++
	s.lat[b]++
	s.latSum += sec
	h.cumLat[b]++
	h.cumLatSum += sec
	h.cumPred++
	if fallback {
		s.nFallback++
		h.cumFallback++
	}
}

// HealthSnapshot is the rolling figures at one moment. Figures with no data
// are NaN.
type HealthSnapshot struct {
	Time time.Time `json:"time"`
	// Errors is how many forecasts were scored against actuals in the window.
	Errors    int     `json:"errors"`
	MAE       float64 `json:"mae"`
	MAPE      float64 `json:"mape"`      // percent
	Accuracy5 float64 `json:"accuracy5"` // share with |e| <= 5% |y|
	// Predictions served in the window, their rate over RateWindow, and the
	// share answered by the fallback.
	Predictions          int     `json:"predictions"`
	PredictionsPerSecond float64 `json:"predictions_per_second"`
	FallbackRate         float64 `json:"fallback_rate"`
	LatencyP50           float64 `json:"latency_p50_seconds"`
	LatencyP99           float64 `json:"latency_p99_seconds"`
	LatencyMean          float64 `json:"latency_mean_seconds"`
}

// Snapshot computes the rolling figures for the window ending at now.
func (h *Health) Snapshot(now time.Time) HealthSnapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := now.UnixNano() / int64(h.cfg.Slot)
	oldest := cur - int64(len(h.slots)) + 1
	rateFrom := cur - int64(h.cfg.RateWindow/h.cfg.Slot) + 1
	var nErr, nAcc5, nAPE, nPred, nFb, nRate int
	var sumAPE, sumAbs, latSum float64
	lat := make([]uint64, len(latencyBounds)+1)
	for i := range h.slots {
		s := &h.slots[i]
		if s.idx < oldest || s.idx > cur {
			continue
		}
		nErr += s.nErr
		nAcc5 += s.nAcc5
		nAPE += s.nAPE
		sumAPE += s.sumAPE
		sumAbs += s.sumAbs
		nPred += s.nPred
		nFb += s.nFallback
		latSum += s.latSum
		for j, c := range s.lat {
			lat[j] += c
		}
		if s.idx >= rateFrom {
			nRate += s.nPred
		}
	}
	nan := math.NaN()
	snap := HealthSnapshot{Time: now, Errors: nErr, Predictions: nPred, MAE: nan, MAPE: nan, Accuracy5: nan,
		FallbackRate: nan, LatencyP50: nan, LatencyP99: nan, LatencyMean: nan}
	if nErr > 0 {
		snap.MAE = sumAbs / float64(nErr)
		snap.Accuracy5 = float64(nAcc5) / float64(nErr)
	}
	if nAPE > 0 {
		snap.MAPE = sumAPE / float64(nAPE)
	}
	if nPred > 0 {
		snap.FallbackRate = float64(nFb) / float64(nPred)
		snap.LatencyMean = latSum / float64(nPred)
		snap.LatencyP50 = histQuantile(lat, 0.50)
		snap.LatencyP99 = histQuantile(lat, 0.99)
	}
	// Rate over the interval from the start of the oldest rate slot to now.
	elapsed := now.Sub(time.Unix(0, rateFrom*int64(h.cfg.Slot))).Seconds()
	if elapsed > 0 {
		snap.PredictionsPerSecond = float64(nRate) / elapsed
	}
	return snap
}

// histQuantile interpolates the q-quantile linearly inside its bucket, as
// Prometheus' histogram_quantile does.
func histQuantile(counts []uint64, q float64) float64 {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return math.NaN()
	}
	rank := q * float64(total)
	var cum float64
	for i, c := range counts {
		if c == 0 {
			continue
		}
		if cum+float64(c) >= rank {
			lo := 0.0
			if i > 0 {
				lo = latencyBounds[i-1]
			}
			if i == len(latencyBounds) {
				return latencyBounds[len(latencyBounds)-1]
			}
			hi := latencyBounds[i]
			return lo + (hi-lo)*(rank-cum)/float64(c)
		}
		cum += float64(c)
	}
	return latencyBounds[len(latencyBounds)-1]
}

// DayMAPE is one UTC day's MAPE (percent) over the forecasts scored that day.
type DayMAPE struct {
	Day  time.Time `json:"day"`
	MAPE float64   `json:"mape"`
	N    int       `json:"n"`
}

// DailyMAPE lists the kept days' MAPE, oldest first.
func (h *Health) DailyMAPE() []DayMAPE {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]DayMAPE, 0, len(h.days))
	for d, a := range h.days {
		out = append(out, DayMAPE{Day: time.Unix(d*86400, 0).UTC(), MAPE: a.sumAPE / float64(a.n), N: a.n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Day.Before(out[j].Day) })
	return out
}

// LatencyHistogram is the cumulative latency histogram since start:
// Counts[i] predictions took at most Bounds[i] seconds (Prometheus
// convention); Count and Sum are over all predictions.
type LatencyHistogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
	// Fallbacks is how many predictions the fallback answered.
	Fallbacks uint64
}

// Cumulative returns the histogram of every prediction since start.
func (h *Health) Cumulative() LatencyHistogram {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := LatencyHistogram{Bounds: LatencyBounds(), Counts: make([]uint64, len(latencyBounds)),
		Count: h.cumPred, Sum: h.cumLatSum, Fallbacks: h.cumFallback}
	var cum uint64
	for i := range latencyBounds {
		cum += h.cumLat[i]
		out.Counts[i] = cum
	}
	return out
}
