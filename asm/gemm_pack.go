package asm

import "fmt"

// Packing into the micro-kernel formats (see gemm.go). The transposing
// cases run 8×8 register transposes (AVX2 and AVX-512 levels), the copying
// ones masked row copies (AVX-512); the Go loops handle the other levels and
// the edges.

type (
	transpose8Func func(n8 int, rows *[8]*float32, dst *float32, ldd int)
	copyRowsFunc   func(n int, src *float32, lds int, dst *float32, ldd int, load, store uint64)
	copyPanelsFunc func(k int, src *float32, lds int, dst *float32, np, w, ldd, panel int, mask uint64)
)

var (
	transpose8Active transpose8Func // nil: Go loops; else called as transpose8
	copyRowsActive   copyRowsFunc   // nil: Go loops
	copyPanelsActive copyPanelsFunc // nil: panel by panel
)

// Panels that copyPanels fills per sweep over the rows of the source:
// enough for long contiguous reads, few enough write streams (measured
// fastest on Zen 5, 3-5x faster than panel by panel).
const (
	copyPanelsA = 8
	copyPanelsB = 6
)

func init() {
	register(func(l Level) { transpose8Active, copyRowsActive, copyPanelsActive = packFor(l) })
}

// GemmPackA packs the m×k block of op(A) whose first element is a[0] into
// ceil(m/MR) A panels of the active level (MR from GemmTile): panel t holds
// rows t*MR ... of mr = min(MR, m-t*MR) rows at dst[t*MR*k:], with
// dst[t*MR*k + p*mr + i] = op(A)[t*MR+i][p], where op(A)[i][p] is
// a[i*lda+p], or a[p*lda+i] when transA. It panics if a slice is too short
// for the shape.
func GemmPackA(transA bool, a []float32, lda, m, k int, dst []float32) {
	rows, cols := m, k
	if transA {
		rows, cols = k, m
	}
	if m < 0 || k < 0 || ld(lda, cols) || short(a, rows, cols, lda) || len(dst) < m*k {
		panic(fmt.Sprintf("asm: GemmPackA: bad shape m=%d k=%d lda=%d len(a)=%d len(dst)=%d", m, k, lda, len(a), len(dst)))
	}
	if m == 0 || k == 0 {
		return
	}
	mr := gemmActive.mr
	t0 := 0
	if c := copyPanelsActive; c != nil && transA && mr <= 32 {
		// Full panels, a few at a time, row by row of a.
		full := m / mr
		for ; t0 < full; t0 += copyPanelsA {
			np := min(copyPanelsA, full-t0)
			c(k, &a[t0*mr], lda, &dst[t0*mr*k], np, mr, mr, mr*k, gemmMask(mr))
		}
		t0 = full
	}
	for t := t0; t*mr < m; t++ {
		i0 := t * mr
		off := i0 * lda
		if transA {
			off = i0
		}
		packPanelA(transA, a[off:], lda, min(mr, m-i0), k, dst[i0*k:])
	}
}

// packPanelA packs one panel of mr rows: dst[p*mr+i] = op(A)[i][p].
func packPanelA(transA bool, a []float32, lda, mr, k int, dst []float32) {
	dst = dst[:mr*k]
	if transA {
		// The mr values of one depth are contiguous in a.
		if c := copyRowsActive; c != nil && mr <= 32 {
			c(k, &a[0], lda, &dst[0], mr, gemmMask(mr), gemmMask(mr))
			return
		}
		for p := 0; p < k; p++ {
			copy(dst[p*mr:p*mr+mr], a[p*lda:p*lda+mr])
		}
		return
	}
	// Rows 8..mr-1 first: their 8-wide stores spill into the next depth's
	// rows 0..7, which the second block then overwrites.
	for r0 := (mr - 1) / 8 * 8; r0 >= 0; r0 -= 8 {
		packRowsT(a, lda, r0, min(mr, r0+8), k, dst, mr)
	}
}

// packRowsT sets dst[p*ldd+r] = a[r*lda+p] for r0 <= r < r1 (at most 8 rows)
// and p < k.
func packRowsT(a []float32, lda, r0, r1, k int, dst []float32, ldd int) {
	p8 := 0
	if transpose8Active != nil {
		c := r1 - r0
		// A block of fewer than 8 rows spills 8-c values past each depth's
		// rows: leave the depths it would spill into to the loop below.
		spill := 0
		if c < 8 {
			spill = (8 - c + ldd - 1) / ldd
		}
		p8 = max(k-spill, 0) / 8 * 8
		if p8 > 0 {
			var rows [8]*float32
			for r := range rows {
				rows[r] = &a[(r0+min(r, c-1))*lda]
			}
			transpose8(p8/8, &rows, &dst[r0], ldd)
		}
	}
	for r := r0; r < r1; r++ {
		row := a[r*lda+p8 : r*lda+k]
		for p, v := range row {
			dst[(p8+p)*ldd+r] = v
		}
	}
}

// GemmPackB packs the k×n block of op(B) whose first element is b[0] into
// ceil(n/NR) B panels of the active level (NR from GemmTile), the last one
// zero-padded: dst[t*k*NR + p*NR + j] = op(B)[p][t*NR+j], where op(B)[p][j]
// is b[p*ldb+j], or b[j*ldb+p] when transB. It panics if a slice is too
// short for the shape.
func GemmPackB(transB bool, b []float32, ldb, k, n int, dst []float32) {
	nr := gemmActive.nr
	rows, cols := k, n
	if transB {
		rows, cols = n, k
	}
	np := (n + nr - 1) / nr
	if k < 0 || n < 0 || ld(ldb, cols) || short(b, rows, cols, ldb) || len(dst) < np*k*nr {
		panic(fmt.Sprintf("asm: GemmPackB: bad shape k=%d n=%d ldb=%d len(b)=%d len(dst)=%d", k, n, ldb, len(b), len(dst)))
	}
	if k == 0 {
		return
	}
	t0 := 0
	if c := copyPanelsActive; c != nil && !transB && nr <= 32 {
		// Full panels, a few at a time, row by row of b.
		full := n / nr
		for ; t0 < full; t0 += copyPanelsB {
			np := min(copyPanelsB, full-t0)
			c(k, &b[t0*nr], ldb, &dst[t0*k*nr], np, nr, nr, k*nr, gemmMask(nr))
		}
		t0 = full
	}
	for t := t0; t < np; t++ {
		jt := t * nr
		w := min(nr, n-jt)
		d := dst[t*k*nr : (t+1)*k*nr]
		if !transB {
			if c := copyRowsActive; c != nil && nr <= 32 {
				c(k, &b[jt], ldb, &d[0], nr, gemmMask(w), gemmMask(nr))
				continue
			}
			for p := 0; p < k; p++ {
				o := p*ldb + jt
				dd := d[p*nr : p*nr+nr]
				copy(dd, b[o:o+w])
				clear(dd[w:])
			}
			continue
		}
		// Column j of op(B) is row j of b: transpose 8 of them at a time.
		w8 := 0
		if transpose8Active != nil {
			w8 = w / 8 * 8
			for j0 := 0; j0 < w8; j0 += 8 {
				packRowsT(b[(jt+j0)*ldb:], ldb, 0, 8, k, d[j0:], nr)
			}
		}
		for j := w8; j < w; j++ {
			row := b[(jt+j)*ldb : (jt+j)*ldb+k]
			for p, v := range row {
				d[p*nr+j] = v
			}
		}
		if w < nr {
			for p := 0; p < k; p++ {
				clear(d[p*nr+w : p*nr+nr])
			}
		}
	}
}

// ld reports a row stride below the row width.
func ld(stride, cols int) bool { return stride < max(cols, 1) }

// short reports a slice too short for a rows×cols matrix with row stride ld.
func short(s []float32, rows, cols, ld int) bool {
	return rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols
}
