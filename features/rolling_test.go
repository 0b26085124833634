package features

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestLowerBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for n := 0; n < 40; n++ {
		for trial := 0; trial < 200; trial++ {
			s := make([]float64, n)
			for i := range s {
				s[i] = float64(rng.IntN(10))
			}
			slices.Sort(s)
			x := float64(rng.IntN(12)) - 1
			want, _ := slices.BinarySearch(s, x)
			if got := lowerBound(s, x); got != want {
				t.Fatalf("lowerBound(%v, %v) = %d, want %d", s, x, got, want)
			}
		}
	}
}

// TestRollWindowLarge checks a long window (w = 500) and the trend against
// direct recomputation, on heavy-tailed data with ties and level shifts. The
// series grows by one value a push, so the window ranks at every push (no
// value ahead to rank).
func TestRollWindowLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	const w = 500
	r := newRollWindow(w)
	tr := newTrendWindow(w)
	var vals []float64
	out := make([]float32, rollStats)
	level := 0.0
	for i := 0; i < 6000; i++ {
		switch rng.IntN(100) {
		case 0:
			level += rng.NormFloat64() * 1e4
		case 1:
			vals = append(vals, level+1e6) // an outlier
			goto push
		}
		vals = append(vals, level+math.Round(rng.NormFloat64()*4)/2)
	push:
		x := vals[len(vals)-1]
		r.push(vals, len(vals)-1)
		tr.push(x)
		if i%7 != 0 {
			continue
		}
		win := vals[max(0, len(vals)-w):]
		r.stats(out)
		want := naiveRolling(win)
		for k := range out {
			tol := 1e-6 * (1 + math.Abs(want[k]))
			if k < 2 {
				tol = 1e-6 * (math.Abs(want[k]) + want[3] - want[2])
			}
			if math.Abs(float64(out[k])-float64(float32(want[k]))) > tol {
				t.Fatalf("push %d: %s = %v, want %v", i, rollStatNames[k], out[k], want[k])
			}
		}
		if got, want := tr.slope(), naiveSlope(win); math.Abs(got-want) > 1e-6*(1+math.Abs(want)) {
			t.Fatalf("push %d: slope %v, want %v", i, got, want)
		}
	}
}

func TestOrderKey(t *testing.T) {
	vals := []float64{math.Inf(-1), -math.MaxFloat64, -1e300, -3, -1, -math.SmallestNonzeroFloat64, math.Copysign(0, -1), 0,
		math.SmallestNonzeroFloat64, 1e-310, 1, 2.5, 1e300, math.MaxFloat64, math.Inf(1)}
	for i, x := range vals {
		if got := keyValue(orderKey(x)); math.Float64bits(got) != math.Float64bits(x) {
			t.Fatalf("keyValue(orderKey(%v)) = %v", x, got)
		}
		if i > 0 && orderKey(vals[i-1]) >= orderKey(x) {
			t.Fatalf("orderKey(%v) >= orderKey(%v)", vals[i-1], x)
		}
	}
}

func TestSelect64(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	for trial := 0; trial < 20000; trial++ {
		x := rng.Uint64()
		switch trial % 4 {
		case 1:
			x &= rng.Uint64() & rng.Uint64() // sparse
		case 2:
			x |= rng.Uint64() | rng.Uint64() // dense
		case 3:
			x = 1 << rng.IntN(64)
		}
		if trial == 0 {
			x = ^uint64(0)
		}
		k := 0
		for p := 0; p < 64; p++ {
			if x>>p&1 == 0 {
				continue
			}
			if got := select64(x, k); got != p {
				t.Fatalf("select64(%#x, %d) = %d, want %d", x, k, got, p)
			}
			k++
		}
	}
}

func TestSortKeyAt(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	for _, n := range []int{0, 1, 2, 3, 16, 17, 18, 50, 100, 1000, 5000} {
		for kind := 0; kind < 5; kind++ {
			a := make([]keyAt, n)
			for i := range a {
				var k uint64
				switch kind {
				case 0:
					k = rng.Uint64()
				case 1:
					k = uint64(rng.IntN(3)) // many equal keys
				case 2:
					k = uint64(i) // sorted
				case 3:
					k = uint64(n - i) // reversed
				case 4:
					k = uint64(i % 7) // sawtooth
				}
				a[i] = keyAt{k, int32(i)}
			}
			want := slices.Clone(a)
			sortKeyAt(a)
			if !slices.IsSortedFunc(a, func(x, y keyAt) int { return cmp.Compare(x.k, y.k) }) {
				t.Fatalf("n=%d kind %d: not sorted", n, kind)
			}
			seen := make([]bool, n)
			for _, e := range a {
				if seen[e.at] || want[e.at] != e {
					t.Fatalf("n=%d kind %d: %v is not a permutation of the input", n, kind, e)
				}
				seen[e.at] = true
			}
		}
	}
}

// TestRollWindowMatchesSorted checks every statistic bit for bit against the
// previous sorted-window implementation, for windows of 2 to 2000 samples on
// data with many duplicates, constant runs, level shifts and outliers, with
// resets (segment breaks), two windows sharing one ranking (as in Engineer)
// and pushes from a prefix of the series (ranking clipped at its end).
func TestRollWindowMatchesSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 7))
	sizes := []int{2, 3, 4, 5, 15, 30, 31, 32, 33, 63, 64, 65, 97, 128, 500, 1023, 1800, 2000}
	for i := 0; i < 6; i++ {
		sizes = append(sizes, 2+rng.IntN(1999))
	}
	out, want := make([]float32, rollStats), make([]float32, rollStats)
	for _, w := range sizes {
		n := 3*w + 700
		v := make([]float64, n)
		level, x := 0.0, 0.0
		for i := range v {
			switch r := rng.IntN(100); {
			case r < 30 && i > 0: // constant runs
				x = v[i-1]
			case r < 70: // few distinct values
				x = level + float64(rng.IntN(8))
			case r < 72:
				level += math.Round(rng.NormFloat64() * 50)
				x = level
			case r == 72:
				x = level + 1e7 // outlier
			case r == 73:
				x = 0
			default:
				x = level + math.Round(rng.NormFloat64()*1e3)/64
			}
			v[i] = x
		}
		q := newRanks(w)
		w2 := max(2, rng.IntN(w+1))
		rs := []*rollWindow{newRollWindowOn(w, q), newRollWindowOn(w2, q)}
		olds := []*sortedWindow{newSortedWindow(w), newSortedWindow(w2)}
		for i, x := range v {
			src := v
			switch rng.IntN(300) {
			case 0, 1:
				for j := range rs {
					rs[j].reset()
					olds[j].reset()
				}
			case 2:
				src = v[:i+1]
			}
			for j, r := range rs {
				r.push(src, i)
				olds[j].push(x)
				r.stats(out)
				olds[j].stats(want)
				for k := range out {
					if math.Float32bits(out[k]) != math.Float32bits(want[k]) {
						t.Fatalf("w=%d push %d: %s = %v, sorted window gives %v", r.w, i, rollStatNames[k], out[k], want[k])
					}
				}
			}
		}
	}
}

// TestRollWindowSignedZeros: with -0 and +0 in the window the statistics
// equal the sorted window's (a zero may differ in sign only) and the sign
// does not depend on the order of arrival.
func TestRollWindowSignedZeros(t *testing.T) {
	neg := math.Copysign(0, -1)
	for _, v := range [][]float64{{neg, 0, neg, 0, 1, neg}, {0, neg, 0, neg, 0, neg}, {-1, 0, neg, 0, neg, 2}} {
		r, old := newRollWindow(3), newSortedWindow(3)
		out, want := make([]float32, rollStats), make([]float32, rollStats)
		for i, x := range v {
			r.push(v, i)
			old.push(x)
			r.stats(out)
			old.stats(want)
			for k := range out {
				if out[k] != want[k] {
					t.Fatalf("%v push %d: %s = %v, sorted window gives %v", v, i, rollStatNames[k], out[k], want[k])
				}
			}
			win := v[max(0, i-2) : i+1]
			isNeg := func(x float64) bool { return x == 0 && math.Signbit(x) }
			if slices.ContainsFunc(win, isNeg) {
				if min := out[2]; min == 0 && !math.Signbit(float64(min)) {
					t.Fatalf("%v push %d: min is +0 with -0 in the window (-0 orders first)", v, i)
				}
			}
		}
	}
}

// BenchmarkRollWindow is one push plus the nine statistics of one window
// (no ranks shared), for the rank structure (rank) and the previous sorted
// window (sorted), on an AR(1) series (noise) and on a rising one (trend:
// every push evicts the smallest value and adds the largest, the sorted
// window's worst case, a memmove of the whole window), for the default
// windows at a one-minute cadence (5, 30), at one second (1800) and longer
// (16384).
func BenchmarkRollWindow(b *testing.B) {
	const n = 1 << 16
	rng := rand.New(rand.NewPCG(8, 9))
	data := map[string][]float64{"noise": make([]float64, n), "trend": make([]float64, n)}
	x := 50.0
	for i := 0; i < n; i++ {
		x = 0.95*x + 2.5 + rng.NormFloat64()
		data["noise"][i] = x
		data["trend"][i] = float64(i) + rng.Float64()
	}
	out := make([]float32, rollStats)
	for _, kind := range []string{"noise", "trend"} {
		v := data[kind]
		for _, w := range []int{5, 30, 1800, 16384} {
			b.Run(fmt.Sprintf("%s/w=%d/rank", kind, w), func(b *testing.B) {
				r := newRollWindow(w)
				cpu0 := processCPU()
				for i := 0; i < b.N; i++ {
					j := i % n
					if j == 0 {
						r.reset()
					}
					r.push(v, j)
					r.stats(out)
				}
				reportPushes(b, cpu0)
			})
			b.Run(fmt.Sprintf("%s/w=%d/sorted", kind, w), func(b *testing.B) {
				r := newSortedWindow(w)
				cpu0 := processCPU()
				for i := 0; i < b.N; i++ {
					j := i % n
					if j == 0 {
						r.reset()
					}
					r.push(v[j])
					r.stats(out)
				}
				reportPushes(b, cpu0)
			})
		}
	}
}

// reportPushes reports CPU nanoseconds per push (the machine may be shared,
// so wall time overstates) and pushes per CPU-second.
func reportPushes(b *testing.B, cpu0 time.Duration) {
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/push")
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "pushes/cpu-s")
	}
}
