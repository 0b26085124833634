package features

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// Rolling statistics over the last w samples in O(log w) per sample,
// amortised, with no allocation after construction (w: the longest window
// sharing the ranks, see below). The previous implementation, a sorted copy
// of the window kept by binary search and memmove (O(w) per sample), is
// kept in rolling_sorted_test.go as the oracle these must match bit for bit.
//
//   - order statistics (min, max, p50, p95, p99) from an order-statistic
//     bitset over ranks. A ranks sorts a stretch of the series: the b >= w
//     values before index i and the next s >= b, each given its own slot,
//     its position in that sorted stretch. A window is the set of its
//     values' slots: a bitset with a Fenwick tree over the popcounts of its
//     64-bit words. A push clears the evicted value's slot and sets the new
//     one (O(log w)); the k-th smallest value is a descent of the Fenwick
//     tree to a word and a broadword select inside it (O(log w)); the
//     neighbour of a slot is usually in the same word (O(1)). When a push
//     passes the stretch, the next one is ranked: only the s new values are
//     sorted (O(s log s)) and merged with the b kept ones in their existing
//     order (O(b+s)), and each window re-marks its slots (O(w)): O(log w)
//     per push, amortised over s >= w pushes. The windows of one metric
//     share one ranks, so a value is sorted once, not once per window;
//   - moments (mean, std, skew, kurt) from running sums of (x-K)^p, p=1..4,
//     shifted by K, the window mean at the last exact recomputation. The sums
//     are recomputed exactly (two-pass) every w pushes, and at once when the
//     shift has drifted more than about three standard deviations from the
//     mean (the higher moments would lose digits to cancellation), or when
//     a value that dominated the sums (an outlier) leaves the window.
//
// Ranking values that have not been pushed yet cannot leak them into a
// statistic: a rank is used only to order values (never as a value), every
// reported statistic is read back as the value stored at an occupied slot,
// and the slots are ordered by a total order on the values themselves (the
// IEEE order with -0 before +0, see orderKey), so the k-th occupied slot
// holds the k-th smallest window value whatever else was ranked with it.
// TestNoLookAhead checks this bit for bit.
//
// Definitions (window of n <= w values; fewer at the start of a segment):
// mean; std is the population standard deviation (ddof 0); skew = m3/m2^1.5;
// kurt = m4/m2^2 - 3 (excess); std, skew and kurt are 0 when every value in
// the window is equal; pq is the linear interpolation between closest ranks
// at position q(n-1) of the sorted window (NumPy's default). Results are bit
// for bit those of a sorted copy of the window (TestRollWindowMatchesSorted),
// except that when a window holds both -0 and +0 a zero min, max or
// percentile is -0 here, whichever came first there.
type rollWindow struct {
	w    int
	ring []float64 // the last n values, oldest at head
	head int
	n    int
	next int // series index of the next push

	q   *ranks
	gen int      // q.gen the bits below refer to
	occ []uint64 // slot j is in the window iff bit j%64 of occ[j/64]
	fen []int32  // Fenwick tree (1-based) over bits.OnesCount64(occ[j])
	top int      // the largest power of two <= len(occ)

	k      float64 // shift of the moment sums
	s1     float64
	s2     float64
	s3     float64
	s4     float64
	pushes int // since the last exact recomputation
}

// ranks gives each value of a stretch of one series its slot: its position
// in the stretch sorted by orderKey (equal values get adjacent slots).
type ranks struct {
	back int      // values ranked before the index that triggered ranking
	keys []uint64 // orderKey of the value at each slot, ascending
	who  []int32  // series index - at of the value at each slot
	at   int      // series index of slot[0]
	slot []int32  // slot of the value at series index at+j
	gen  int      // counts rankings
	kept []keyAt  // scratch: values ranked again, in order
	add  []keyAt  // scratch: values ranked for the first time
}

// keyAt is a value's orderKey and its series index - the stretch's start.
type keyAt struct {
	k  uint64
	at int32
}

// rollStats is the number of statistics a window writes, in rollStatNames order.
const rollStats = 9

var rollStatNames = [rollStats]string{"mean", "std", "min", "max", "p50", "p95", "p99", "skew", "kurt"}

// newRanks serves windows of up to w samples. The slot space (w before, at
// least w after) is a whole number of words and at least twice w, so a
// ranking is paid for by at least w pushes.
func newRanks(w int) *ranks {
	if w > math.MaxInt32/4 {
		panic("features: rolling window of more than 2^29 samples") // slots are int32
	}
	slots := (2*w + 63) &^ 63
	return &ranks{back: w, keys: make([]uint64, 0, slots), who: make([]int32, 0, slots), slot: make([]int32, 0, slots),
		kept: make([]keyAt, 0, slots), add: make([]keyAt, 0, slots)}
}

// rank orders v[lo:hi], lo = i-back, hi = lo+slots (clipped to v). The
// values it ordered last time (the last back pushed, usually) keep their
// order: only the new ones are sorted, then merged in, so a value is sorted
// once, not twice.
func (q *ranks) rank(v []float64, i int) {
	lo := max(i-q.back, 0)
	hi := min(lo+cap(q.keys), len(v))
	// Kept: [lo, keptHi) if the last stretch covered lo.
	kept, keptHi := q.kept[:0], lo
	if end := q.at + len(q.slot); lo >= q.at && lo < end {
		keptHi = min(end, hi)
		off, n := int32(lo-q.at), int32(keptHi-lo)
		for s, w := range q.who {
			if u := w - off; uint32(u) < uint32(n) {
				kept = append(kept, keyAt{q.keys[s], u})
			}
		}
	}
	add := q.add[:0]
	for j, x := range v[keptHi:hi] {
		add = append(add, keyAt{orderKey(x), int32(keptHi - lo + j)})
	}
	sortKeyAt(add)
	keys, who, slot := q.keys[:hi-lo], q.who[:hi-lo], q.slot[:hi-lo]
	a, b := 0, 0
	for s := range keys {
		var e keyAt
		if b == len(add) || a < len(kept) && kept[a].k <= add[b].k {
			e = kept[a]
			a++
		} else {
			e = add[b]
			b++
		}
		keys[s], who[s] = e.k, e.at
		slot[e.at] = int32(s)
	}
	q.keys, q.who, q.slot, q.at = keys, who, slot, lo
	q.kept, q.add = kept, add
	q.gen++
}

// sortKeyAt sorts by key: quicksort (median of three, Hoare partition, so
// runs of equal keys split evenly) with insertion sort for short ranges and
// pdqsort as the fallback should the recursion go too deep.
func sortKeyAt(a []keyAt) {
	depth := 2 * bits.Len(uint(len(a)))
	for len(a) > 16 {
		if depth == 0 {
			slices.SortFunc(a, func(x, y keyAt) int { return cmp.Compare(x.k, y.k) })
			return
		}
		depth--
		h := len(a) - 1
		m := h / 2
		if a[m].k < a[0].k {
			a[m], a[0] = a[0], a[m]
		}
		if a[h].k < a[m].k {
			a[h], a[m] = a[m], a[h]
			if a[m].k < a[0].k {
				a[m], a[0] = a[0], a[m]
			}
		}
		p := a[m].k
		i, j := 0, h
		for {
			for a[i].k < p {
				i++
			}
			for a[j].k > p {
				j--
			}
			if i >= j {
				break
			}
			a[i], a[j] = a[j], a[i]
			i++
			j--
		}
		// a[:j+1] <= p <= a[j+1:]; recurse into the shorter side.
		if j+1 < len(a)-j-1 {
			sortKeyAt(a[:j+1])
			a = a[j+1:]
		} else {
			sortKeyAt(a[j+1:])
			a = a[:j+1]
		}
	}
	for i := 1; i < len(a); i++ {
		e := a[i]
		j := i
		for ; j > 0 && a[j-1].k > e.k; j-- {
			a[j] = a[j-1]
		}
		a[j] = e
	}
}

func newRollWindow(w int) *rollWindow { return newRollWindowOn(w, newRanks(w)) }

// newRollWindowOn makes a window of w <= q.back samples ranked by q, which
// windows over the same series may share.
func newRollWindowOn(w int, q *ranks) *rollWindow {
	if w > q.back {
		panic("features: rolling window longer than its ranks")
	}
	words := cap(q.keys) / 64
	return &rollWindow{
		w:    w,
		ring: make([]float64, w),
		q:    q,
		occ:  make([]uint64, words),
		fen:  make([]int32, words+1),
		top:  1 << (bits.Len(uint(words)) - 1),
	}
}

// reset empties the window; the next push may be at any index. It costs
// O(min(n log w, w/64)), so even a segment break at every sample keeps the
// O(log w) per sample.
func (r *rollWindow) reset() {
	switch q := r.q; {
	case r.n == 0: // no bit set
	case r.n < len(r.occ) && r.gen == q.gen:
		for _, s := range q.slot[r.next-r.n-q.at : r.next-q.at] {
			if b := r.occ[s>>6]; b != 0 {
				r.fenAdd(int(s>>6), -int32(bits.OnesCount64(b)))
				r.occ[s>>6] = 0
			}
		}
	default:
		clear(r.occ)
		clear(r.fen)
	}
	r.head, r.n, r.pushes = 0, 0, 0
	r.k, r.s1, r.s2, r.s3, r.s4 = 0, 0, 0, 0, 0
}

// orderKey maps a float64 to a uint64 with the same order (-0 before +0;
// NaN does not occur: Engineer's grid is validated finite).
func orderKey(x float64) uint64 {
	b := math.Float64bits(x)
	return b ^ (uint64(int64(b)>>63) | 1<<63)
}

// keyValue inverts orderKey.
func keyValue(k uint64) float64 {
	return math.Float64frombits(k ^ (uint64(int64(^k)>>63) | 1<<63))
}

// remark sets the bits of the window's values, those before series index i,
// anew after q ranked again.
func (r *rollWindow) remark(i int) {
	q := r.q
	clear(r.occ)
	for _, s := range q.slot[i-r.n-q.at : i-q.at] {
		r.occ[s>>6] |= 1 << (s & 63)
	}
	// Fenwick tree in O(words): each node passes its sum to its parent.
	words := len(r.occ)
	for j := 1; j <= words; j++ {
		r.fen[j] = int32(bits.OnesCount64(r.occ[j-1]))
	}
	for j := 1; j <= words; j++ {
		if p := j + j&-j; p <= words {
			r.fen[p] += r.fen[j]
		}
	}
	r.gen = q.gen
}

// fenAdd adds d to word j's count.
func (r *rollWindow) fenAdd(j int, d int32) {
	for j++; j < len(r.fen); j += j & -j {
		r.fen[j] += d
	}
}

// push appends v[i] to the window, evicting the oldest value once it holds
// w. Since newRollWindow or reset the pushes must be at consecutive indices
// of one series (v may grow between pushes); values of v after i may be
// read to order them, never reported.
func (r *rollWindow) push(v []float64, i int) {
	if r.n > 0 && i != r.next {
		panic(fmt.Sprintf("features: rolling window pushed at %d after %d", i, r.next-1))
	}
	r.next = i + 1
	q := r.q
	if i-r.n < q.at || i >= q.at+len(q.slot) {
		q.rank(v, i)
	}
	if r.gen != q.gen {
		r.remark(i)
	}
	x := v[i]
	s := q.slot[i-q.at]
	r.occ[s>>6] |= 1 << (s & 63)
	if r.n < r.w {
		h := r.head + r.n
		if h >= r.w {
			h -= r.w
		}
		r.ring[h] = x
		r.n++
		r.fenAdd(int(s>>6), 1)
		if r.n == 1 {
			r.k = x
			r.s1, r.s2, r.s3, r.s4 = 0, 0, 0, 0
		} else {
			r.add(x)
		}
	} else {
		os := q.slot[i-r.w-q.at]
		r.occ[os>>6] &^= 1 << (os & 63)
		if os>>6 != s>>6 {
			r.fenAdd(int(os>>6), -1)
			r.fenAdd(int(s>>6), 1)
		}
		old := r.ring[r.head]
		r.ring[r.head] = x
		r.head++
		if r.head == r.w {
			r.head = 0
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

func (r *rollWindow) add(x float64) {
	d := x - r.k
	d2 := d * d
	r.s1 += d
	r.s2 += d2
	r.s3 += d2 * d
	r.s4 += d2 * d2
}

// recompute resets the shift to the window mean and the sums exactly.
func (r *rollWindow) recompute() {
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
func (r *rollWindow) at(i int) float64 {
	j := r.head + i
	if j >= r.w {
		j -= r.w
	}
	return r.ring[j]
}

// kth is the slot of the k-th smallest window value (k < n).
func (r *rollWindow) kth(k int) int {
	if len(r.occ) == 1 {
		return select64(r.occ[0], k)
	}
	j := 0 // words before the one holding it
	for step := r.top; step > 0; step >>= 1 {
		if q := j + step; q < len(r.fen) && int(r.fen[q]) <= k {
			j = q
			k -= int(r.fen[q])
		}
	}
	return j<<6 + select64(r.occ[j], k)
}

// first and last are the slots of the smallest and largest window values.
func (r *rollWindow) first() int {
	if len(r.occ) == 1 {
		return bits.TrailingZeros64(r.occ[0])
	}
	return r.kth(0)
}

func (r *rollWindow) last() int {
	if len(r.occ) == 1 {
		return 63 - bits.LeadingZeros64(r.occ[0])
	}
	return r.kth(r.n - 1)
}

// nextSlot is the smallest occupied slot above s, given that s holds the
// k-th smallest value and k+1 < n.
func (r *rollWindow) nextSlot(s, k int) int {
	if rest := r.occ[s>>6] >> (s & 63) >> 1; rest != 0 {
		return s + 1 + bits.TrailingZeros64(rest)
	}
	return r.kth(k + 1)
}

// prevSlot is the largest occupied slot below s, given that s holds the
// k-th smallest value and k > 0.
func (r *rollWindow) prevSlot(s, k int) int {
	if rest := r.occ[s>>6] & (1<<(s&63) - 1); rest != 0 {
		return s&^63 + 63 - bits.LeadingZeros64(rest)
	}
	return r.kth(k - 1)
}

// quantile is quantileSorted of the window, from the slot of its largest
// value and at most two selects.
func (r *rollWindow) quantile(q float64, last int) float64 {
	keys := r.q.keys
	pos := q * float64(r.n-1)
	i := int(pos)
	if i+1 >= r.n {
		return keyValue(keys[last])
	}
	var s, t int
	if i+2 == r.n { // the two largest (p99 of up to 101 values)
		s, t = r.prevSlot(last, i+1), last
	} else {
		s = r.kth(i)
		t = r.nextSlot(s, i)
	}
	lo, hi := keyValue(keys[s]), keyValue(keys[t])
	f := pos - float64(i)
	return lo + f*(hi-lo)
}

// stats writes the window's statistics in rollStatNames order.
func (r *rollWindow) stats(out []float32) {
	_ = out[rollStats-1]
	n := r.n
	last := r.last()
	lo, hi := keyValue(r.q.keys[r.first()]), keyValue(r.q.keys[last])
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
	out[4] = f32(r.quantile(0.50, last))
	out[5] = f32(r.quantile(0.95, last))
	out[6] = f32(r.quantile(0.99, last))
	out[7] = f32(skew)
	out[8] = f32(kurt)
}

// quantileSorted is the q-quantile of ascending s by linear interpolation
// between closest ranks.
func quantileSorted(s []float64, q float64) float64 {
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	f := pos - float64(i)
	return s[i] + f*(s[i+1]-s[i])
}

// selectByte[b<<3|k] is the position of the k-th set bit of byte b.
var selectByte = func() (t [256 << 3]uint8) {
	for b := 0; b < 256; b++ {
		k := 0
		for p := 0; p < 8; p++ {
			if b>>p&1 != 0 {
				t[b<<3|k] = uint8(p)
				k++
			}
		}
	}
	return t
}()

// select64 is the position of the k-th (from 0) set bit of x, k <
// OnesCount64(x), without branches: byte popcounts and their prefix sums by
// SWAR, the byte found by comparing every prefix with k at once (Vigna,
// "Broadword implementation of rank/select queries", 2008), then a table.
func select64(x uint64, k int) int {
	const l8, h8 = 0x0101010101010101, 0x8080808080808080
	s := x - (x>>1)&0x5555555555555555
	s = s&0x3333333333333333 + (s>>2)&0x3333333333333333
	s = (s + s>>4) & 0x0f0f0f0f0f0f0f0f
	sums := s * l8 // byte j: set bits in bytes 0..j
	// Byte j's high bit is set iff k >= sums[j] (all sums <= 64 < 128).
	geq := ((uint64(k)*l8 | h8) - sums) & h8
	place := uint(bits.OnesCount64(geq)) * 8
	k -= int((sums << 8 >> place) & 0xff)
	return int(place) + int(selectByte[(x>>place&0xff)<<3|uint64(k)])
}

// trendWindow is the least-squares slope of the last w values against their
// sample index. x is measured from the newest point (0, -1, ..., -(n-1)), so
// pushing shifts every x by -1: Sxy -= Sy. y is shifted by K for stability and
// the sums are recomputed every w pushes.
type trendWindow struct {
	w      int
	ring   []float64
	head   int
	n      int
	k      float64
	sy     float64
	sxy    float64
	pushes int
}

func newTrendWindow(w int) *trendWindow { return &trendWindow{w: w, ring: make([]float64, w)} }

func (t *trendWindow) reset() { t.head, t.n, t.pushes, t.sy, t.sxy = 0, 0, 0, 0, 0 }

func (t *trendWindow) push(y float64) {
	if t.n == 0 {
		t.k = y
	}
	t.sxy -= t.sy
	if t.n == t.w {
		old := t.ring[t.head] - t.k
		// The evicted point now sits at x = -w.
		t.sxy += float64(t.w) * old
		t.sy -= old
		t.ring[t.head] = y
		t.head++
		if t.head == t.w {
			t.head = 0
		}
	} else {
		idx := t.head + t.n
		if idx >= t.w {
			idx -= t.w
		}
		t.ring[idx] = y
		t.n++
	}
	t.sy += y - t.k
	t.pushes++
	if t.pushes >= t.w {
		t.pushes = 0
		t.k = y
		t.sy, t.sxy = 0, 0
		for i := 0; i < t.n; i++ {
			j := t.head + i
			if j >= t.w {
				j -= t.w
			}
			d := t.ring[j] - t.k
			t.sy += d
			t.sxy += float64(i-(t.n-1)) * d
		}
	}
}

// slope is the least-squares slope per sample (0 for fewer than two points).
func (t *trendWindow) slope() float64 {
	n := float64(t.n)
	if t.n < 2 {
		return 0
	}
	sx := -n * (n - 1) / 2
	sxx := (n - 1) * n * (2*n - 1) / 6
	return (n*t.sxy - sx*t.sy) / (n*sxx - sx*sx)
}
