package lifecycle

import (
	"sort"
	"sync"
	"time"
)

// Sample is one collection of metric values at a time, in the column order
// of the pipeline's feature schema.
type Sample struct {
	Time   time.Time
	Values []float64
}

// History is a bounded rolling record of samples in time order. Safe for
// concurrent use.
type History struct {
	mu    sync.RWMutex
	buf   []Sample
	start int
	n     int
}

// NewHistory keeps at most limit samples, dropping the oldest.
func NewHistory(limit int) *History {
	if limit < 1 {
		panic("lifecycle: history limit must be positive")
	}
	return &History{buf: make([]Sample, limit)}
}

// Append adds samples; ones not after the newest kept sample are dropped
// (a source that re-sends overlapping data is harmless). It returns how
// many were kept.
func (h *History) Append(s ...Sample) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	kept := 0
	for _, x := range s {
		if h.n > 0 && !x.Time.After(h.at(h.n-1).Time) {
			continue
		}
		if h.n < len(h.buf) {
			h.buf[(h.start+h.n)%len(h.buf)] = x
			h.n++
		} else {
			h.buf[h.start] = x
			h.start = (h.start + 1) % len(h.buf)
		}
		kept++
	}
	return kept
}

func (h *History) at(i int) *Sample { return &h.buf[(h.start+i)%len(h.buf)] }

// Len is the number of samples kept.
func (h *History) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.n
}

// Snapshot copies the kept samples, oldest first.
func (h *History) Snapshot() []Sample {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]Sample, h.n)
	for i := range out {
		out[i] = *h.at(i)
	}
	return out
}

// Last returns the newest sample and whether there is one.
func (h *History) Last() (Sample, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.n == 0 {
		return Sample{}, false
	}
	return *h.at(h.n - 1), true
}

// TailFrom copies the newest n samples that are not before t (fewer if
// fewer are kept), oldest first: what a follower that last saw the sample
// at t is fed.
func (h *History) TailFrom(t time.Time, n int) []Sample {
	h.mu.RLock()
	defer h.mu.RUnlock()
	first := max(0, h.n-n)
	first += sort.Search(h.n-first, func(i int) bool { return !h.at(first + i).Time.Before(t) })
	out := make([]Sample, h.n-first)
	for i := range out {
		out[i] = *h.at(first + i)
	}
	return out
}

// Tail copies the newest n samples (fewer if fewer are kept), oldest first:
// what a forecaster needs at serving time, without copying the whole history.
func (h *History) Tail(n int) []Sample {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if n > h.n {
		n = h.n
	}
	out := make([]Sample, n)
	for i := range out {
		out[i] = *h.at(h.n - n + i)
	}
	return out
}
