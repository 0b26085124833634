package features

import "math"

// sortedWindow is the previous rolling-window implementation, kept verbatim
// (renamed) as the oracle that rollWindow must match bit for bit. Its order
// statistics come from a sorted copy of the window kept up to date by binary
// search plus one memmove per push: O(w) per push in the worst case.
//
// Rolling statistics over the last w samples, updated in O(log w + w/B) per
// sample (B: floats moved per memmove cycle) instead of re-sorting each
// window:
//
//   - order statistics (min, max, p50, p95, p99) from a sorted copy of the
//     window: the evicted value is found by binary search and the new one is
//     slid into place with one memmove over the span between the two
//     positions. A memmove of w float64 is a few nanoseconds for the window
//     sizes the default windows give (2 to 30 samples at 1-5 minute cadences; 1800 at one
//     second is still well under a microsecond), so this beats a skip list or a
//     Fenwick tree in practice, but it is O(w) in the worst case;
//   - moments (mean, std, skew, kurt) from running sums of (x-K)^p, p=1..4,
//     shifted by K, the window mean at the last exact recomputation. The sums
//     are recomputed exactly (two-pass) every w pushes, and at once when the
//     shift has drifted more than about three standard deviations from the
//     mean (the higher moments would lose digits to cancellation), or when
//     a value that dominated the sums (an outlier) leaves the window.
//
// Definitions (window of n <= w values; fewer at the start of a segment):
// mean; std is the population standard deviation (ddof 0); skew = m3/m2^1.5;
// kurt = m4/m2^2 - 3 (excess); std, skew and kurt are 0 when every value in
// the window is equal; pq is the linear interpolation between closest ranks
// at position q(n-1) of the sorted window (NumPy's default).
type sortedWindow struct {
	w      int
	ring   []float64 // the last n values, oldest at head
	head   int
	n      int
	sorted []float64 // the same values, ascending
	k      float64   // shift of the moment sums
	s1     float64
	s2     float64
	s3     float64
	s4     float64
	pushes int // since the last exact recomputation
}

func newSortedWindow(w int) *sortedWindow {
	return &sortedWindow{w: w, ring: make([]float64, w), sorted: make([]float64, 0, w)}
}

func (r *sortedWindow) reset() {
	r.head, r.n, r.pushes = 0, 0, 0
	r.sorted = r.sorted[:0]
	r.k, r.s1, r.s2, r.s3, r.s4 = 0, 0, 0, 0, 0
}

// lowerBound is the first index i with s[i] >= x. The loop halves a range
// whose size does not depend on the data, so the comparison compiles to a
// conditional move instead of a mispredicted branch.
func lowerBound(s []float64, x float64) int {
	n := len(s)
	if n == 0 {
		return 0
	}
	base := 0
	for n > 1 {
		half := n >> 1
		if s[base+half-1] < x {
			base += half
		}
		n -= half
	}
	if s[base] < x {
		base++
	}
	return base
}

func (r *sortedWindow) push(x float64) {
	if r.n < r.w {
		p := lowerBound(r.sorted, x)
		r.sorted = append(r.sorted, 0)
		copy(r.sorted[p+1:], r.sorted[p:])
		r.sorted[p] = x
		idx := r.head + r.n
		if idx >= r.w {
			idx -= r.w
		}
		r.ring[idx] = x
		r.n++
		if r.n == 1 {
			r.k = x
			r.s1, r.s2, r.s3, r.s4 = 0, 0, 0, 0
		} else {
			r.add(x)
		}
	} else {
		old := r.ring[r.head]
		r.ring[r.head] = x
		r.head++
		if r.head == r.w {
			r.head = 0
		}
		s := r.sorted
		i := lowerBound(s, old) // s[i] == old
		if x >= old {
			p := i + 1 + lowerBound(s[i+1:], x)
			copy(s[i:p-1], s[i+1:p])
			s[p-1] = x
		} else {
			p := lowerBound(s[:i], x)
			copy(s[p+1:i+1], s[p:i])
			s[p] = x
		}
		d := old - r.k
		d2 := d * d
		r.s1 -= d
		r.s2 -= d2
		r.s3 -= d2 * d
		r.s4 -= d2 * d2
		r.add(x)
		// Subtracting a dominant value (an outlier leaving) leaves a
		// rounding error of about 1e-16*d^4 in s4, large against what
		// remains: recompute instead.
		if d2 > 1e3*r.s2/float64(r.n) {
			r.recompute()
			return
		}
	}
	r.pushes++
	if r.pushes >= r.w {
		r.recompute()
	}
}

func (r *sortedWindow) add(x float64) {
	d := x - r.k
	d2 := d * d
	r.s1 += d
	r.s2 += d2
	r.s3 += d2 * d
	r.s4 += d2 * d2
}

// recompute resets the shift to the window mean and the sums exactly.
func (r *sortedWindow) recompute() {
	r.pushes = 0
	var sum float64
	for i := 0; i < r.n; i++ {
		sum += r.at(i)
	}
	r.k = sum / float64(r.n)
	r.s1, r.s2, r.s3, r.s4 = 0, 0, 0, 0
	for i := 0; i < r.n; i++ {
		r.add(r.at(i))
	}
}

// at is the i-th oldest value.
func (r *sortedWindow) at(i int) float64 {
	j := r.head + i
	if j >= r.w {
		j -= r.w
	}
	return r.ring[j]
}

// stats writes the window's statistics in rollStatNames order.
func (r *sortedWindow) stats(out []float32) {
	_ = out[rollStats-1]
	s := r.sorted
	n := r.n
	lo, hi := s[0], s[n-1]
	var mean, std, skew, kurt float64
	if lo == hi {
		mean = lo
	} else {
		fn := float64(n)
		m1 := r.s1 / fn
		e2 := r.s2 / fn
		c2 := e2 - m1*m1
		if !(c2 > 0.1*e2) {
			// The shift is far from the mean: recompute rather than
			// trust a difference of nearly equal sums.
			r.recompute()
			m1 = r.s1 / fn
			e2 = r.s2 / fn
			c2 = e2 - m1*m1
		}
		mean = r.k + m1
		if c2 > 0 {
			e3 := r.s3 / fn
			e4 := r.s4 / fn
			mm := m1 * m1
			c3 := e3 - 3*m1*e2 + 2*mm*m1
			c4 := e4 - 4*m1*e3 + 6*mm*e2 - 3*mm*mm
			std = math.Sqrt(c2)
			skew = c3 / (c2 * std)
			kurt = c4/(c2*c2) - 3
		}
	}
	out[0] = f32(mean)
	out[1] = f32(std)
	out[2] = f32(lo)
	out[3] = f32(hi)
	out[4] = f32(quantileSorted(s, 0.50))
	out[5] = f32(quantileSorted(s, 0.95))
	out[6] = f32(quantileSorted(s, 0.99))
	out[7] = f32(skew)
	out[8] = f32(kurt)
}
