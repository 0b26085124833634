// Package blas holds the dense linear algebra the model needs: single
// precision GEMM on row-major matrices.
//
// Sgemm packs op(A) and op(B) into the panel formats of the asm
// micro-kernels (see asm.GemmMicro) block by block and runs the kernel over
// them: B in KC×NC blocks that stay in L2, A in MR-row panels that stay in
// L1 while the kernel sweeps the block's columns. Large products are split
// over goroutines by columns (or rows); small ones run on the caller's
// goroutine. PackB packs a B operand once for products that reuse it, such
// as the recurrent weights of an LSTM multiplied at every time step.
//
// Shape errors (negative sizes, strides below the row width, slices shorter
// than their strides imply) are programming errors and panic with a
// "blas: " message.
package blas

import "fmt"

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major float32
// matrices, where op(A) is m×k (A itself, or A^T when transA), op(B) is k×n
// and C is m×n. lda, ldb and ldc are the row strides. When beta is 0, C is
// not read (NaN in C does not propagate), and when alpha is 0 or k is 0,
// A and B are not read, as in BLAS.
//
// Large products run in parallel across GOMAXPROCS; SgemmSerial never starts
// goroutines.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm("Sgemm", transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if gemmTrivial(m, n, k, alpha, beta, c, ldc) {
		return
	}
	if w := workers(m, n, k); w > 1 {
		j := newJob(transA, transB, m, n, k, alpha, a, lda, b, ldb, nil, beta, c, ldc)
		j.run(w, n >= m)
		return
	}
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, nil, beta, c, ldc)
}

// SgemmSerial is Sgemm on the calling goroutine only.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm("SgemmSerial", transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if gemmTrivial(m, n, k, alpha, beta, c, ldc) {
		return
	}
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, nil, beta, c, ldc)
}

// offA and offB are the offsets of row i0 of op(A) and column j0 of op(B).
func offA(transA bool, i0, lda int) int {
	if transA {
		return i0
	}
	return i0 * lda
}

// offAK is the offset of column p0 of op(A).
func offAK(transA bool, p0, lda int) int {
	if transA {
		return p0 * lda
	}
	return p0
}

func offB(transB bool, j0, ldb int) int {
	if transB {
		return j0 * ldb
	}
	return j0
}

// checkGemm panics unless the shapes, strides and slice lengths agree.
func checkGemm(fn string, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("blas: %s: negative dimension m=%d n=%d k=%d", fn, m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMatrix(fn, "A", ar, ac, a, lda)
	checkMatrix(fn, "B", br, bc, b, ldb)
	checkMatrix(fn, "C", m, n, c, ldc)
}

// checkMatrix panics unless s holds a rows×cols row-major matrix with row
// stride ld.
func checkMatrix(fn, name string, rows, cols int, s []float32, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("blas: %s: ld%s=%d < %d columns of %s (%d×%d)", fn, lower(name), ld, cols, name, rows, cols))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(s) < need {
		panic(fmt.Sprintf("blas: %s: len(%s)=%d < %d for %s %d×%d with stride %d", fn, lower(name), len(s), need, name, rows, cols, ld))
	}
}

func lower(name string) string { return string(name[0] + 'a' - 'A') }

// gemmTrivial handles the products that need no multiplication (an empty C,
// k == 0, alpha == 0) and reports whether it did.
func gemmTrivial(m, n, k int, alpha, beta float32, c []float32, ldc int) bool {
	if m == 0 || n == 0 {
		return true
	}
	if k != 0 && alpha != 0 {
		return false
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else if beta != 1 {
			for j := range row {
				row[j] *= beta
			}
		}
	}
	return true
}

// sgemmRef is the naive triple loop that the optimised paths are tested
// against.
func sgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}
