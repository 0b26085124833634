// Package tensor holds Matrix, a row-major float32 matrix that may be a view
// into a larger one (a row stride wider than its columns), and Tensor, an
// n-dimensional row-major array with shape, strides and views.
//
// Both are thin descriptions of a []float32 that code hands to the kernels in
// asm and internal/blas: creating a view copies nothing, and writes through a
// view are visible in the data it was taken from. Index and shape errors are
// programming mistakes and panic with a "tensor: " message.
package tensor

import (
	"fmt"

	"github.com/novacron/perfpredict/internal/blas"
)

// Matrix is a Rows×Cols row-major matrix whose element (i, j) is
// Data[i*Stride+j]. Stride >= Cols; Stride > Cols when the matrix is a view
// of some columns of a wider one.
type Matrix struct {
	Rows, Cols, Stride int
	Data               []float32
}

// NewMatrix allocates a zeroed rows×cols matrix.
func NewMatrix(rows, cols int) Matrix {
	return MatrixOf(rows, cols, make([]float32, rows*cols))
}

// MatrixOf views data as a dense rows×cols matrix (no copy).
func MatrixOf(rows, cols int, data []float32) Matrix {
	if rows < 0 || cols < 0 || len(data) < rows*cols {
		panic(fmt.Sprintf("tensor: MatrixOf: %d×%d needs %d values, have %d", rows, cols, rows*cols, len(data)))
	}
	return Matrix{Rows: rows, Cols: cols, Stride: max(cols, 1), Data: data[:rows*cols]}
}

// At returns element (i, j).
func (m Matrix) At(i, j int) float32 {
	m.check(i, j)
	return m.Data[i*m.Stride+j]
}

// Set sets element (i, j) to v.
func (m Matrix) Set(i, j int, v float32) {
	m.check(i, j)
	m.Data[i*m.Stride+j] = v
}

func (m Matrix) check(i, j int) {
	if uint(i) >= uint(m.Rows) || uint(j) >= uint(m.Cols) {
		panic(fmt.Sprintf("tensor: index (%d, %d) out of range for %d×%d matrix", i, j, m.Rows, m.Cols))
	}
}

// Row returns row i (Cols values, sharing storage).
func (m Matrix) Row(i int) []float32 {
	if uint(i) >= uint(m.Rows) {
		panic(fmt.Sprintf("tensor: row %d out of range for %d×%d matrix", i, m.Rows, m.Cols))
	}
	return m.Data[i*m.Stride : i*m.Stride+m.Cols : i*m.Stride+m.Cols]
}

// View returns the rows×cols block whose top-left element is (i, j), sharing
// storage with m.
func (m Matrix) View(i, j, rows, cols int) Matrix {
	if i < 0 || j < 0 || rows < 0 || cols < 0 || i+rows > m.Rows || j+cols > m.Cols {
		panic(fmt.Sprintf("tensor: view %d×%d at (%d, %d) out of range for %d×%d matrix", rows, cols, i, j, m.Rows, m.Cols))
	}
	if rows == 0 || cols == 0 {
		return Matrix{Rows: rows, Cols: cols, Stride: m.Stride}
	}
	off := i*m.Stride + j
	return Matrix{Rows: rows, Cols: cols, Stride: m.Stride, Data: m.Data[off : off+(rows-1)*m.Stride+cols]}
}

// Clone returns a dense copy of m.
func (m Matrix) Clone() Matrix {
	c := NewMatrix(m.Rows, m.Cols)
	for i := 0; i < m.Rows; i++ {
		copy(c.Row(i), m.Row(i))
	}
	return c
}

// Mul sets c = alpha*op(a)*op(b) + beta*c, where op(x) is x or, when its
// trans flag is set, x transposed (blas.Sgemm; c is not read when beta is 0).
// It panics if the shapes do not agree.
func Mul(c Matrix, alpha float32, a Matrix, transA bool, b Matrix, transB bool, beta float32) {
	m, k := a.Rows, a.Cols
	if transA {
		m, k = k, m
	}
	kb, n := b.Rows, b.Cols
	if transB {
		kb, n = n, kb
	}
	if k != kb || c.Rows != m || c.Cols != n {
		panic(fmt.Sprintf("tensor: Mul: op(a) %d×%d times op(b) %d×%d into %d×%d", m, k, kb, n, c.Rows, c.Cols))
	}
	blas.Sgemm(transA, transB, m, n, k, alpha, a.Data, a.Stride, b.Data, b.Stride, beta, c.Data, c.Stride)
}

// Tensor is an n-dimensional row-major array: the element at index
// (i0, i1, ...) is Data[Offset + Σ i_d*Strides[d]]. New and FromSlice make
// contiguous tensors; Index and Slice make views that share Data.
type Tensor struct {
	Shape   []int
	Strides []int
	Offset  int
	Data    []float32
}

// New allocates a zeroed contiguous tensor.
func New(shape ...int) *Tensor {
	return FromSlice(make([]float32, Size(shape)), shape...)
}

// FromSlice views data as a contiguous tensor of the given shape (no copy).
// It panics if the shape does not match len(data).
func FromSlice(data []float32, shape ...int) *Tensor {
	if n := Size(shape); n != len(data) {
		panic(fmt.Sprintf("tensor: shape %v holds %d values, data has %d", shape, n, len(data)))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Strides: contiguousStrides(shape), Data: data}
}

// Size is the number of elements of a shape; it panics on a negative extent.
func Size(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: negative extent in shape %v", shape))
		}
		n *= d
	}
	return n
}

func contiguousStrides(shape []int) []int {
	s := make([]int, len(shape))
	st := 1
	for d := len(shape) - 1; d >= 0; d-- {
		s[d] = st
		st *= max(shape[d], 1)
	}
	return s
}

// Len is the number of elements.
func (t *Tensor) Len() int { return Size(t.Shape) }

// Contiguous reports whether the elements are densely packed in row-major
// order (so that Values, Reshape and Matrix need no copy).
func (t *Tensor) Contiguous() bool {
	st := 1
	for d := len(t.Shape) - 1; d >= 0; d-- {
		if t.Shape[d] != 1 && t.Strides[d] != st {
			return false
		}
		st *= t.Shape[d]
	}
	return true
}

func (t *Tensor) offset(idx []int) int {
	if len(idx) != len(t.Shape) {
		panic(fmt.Sprintf("tensor: %d indices for shape %v", len(idx), t.Shape))
	}
	off := t.Offset
	for d, i := range idx {
		if uint(i) >= uint(t.Shape[d]) {
			panic(fmt.Sprintf("tensor: index %v out of range for shape %v", idx, t.Shape))
		}
		off += i * t.Strides[d]
	}
	return off
}

// At returns the element at idx (one index per dimension).
func (t *Tensor) At(idx ...int) float32 { return t.Data[t.offset(idx)] }

// Set sets the element at idx to v.
func (t *Tensor) Set(v float32, idx ...int) { t.Data[t.offset(idx)] = v }

// Index returns the view t[i], dropping the first dimension (for a [B,T,F]
// batch, the [T,F] sequence of element i).
func (t *Tensor) Index(i int) *Tensor {
	if len(t.Shape) == 0 || uint(i) >= uint(t.Shape[0]) {
		panic(fmt.Sprintf("tensor: Index(%d) out of range for shape %v", i, t.Shape))
	}
	return &Tensor{Shape: t.Shape[1:len(t.Shape):len(t.Shape)], Strides: t.Strides[1:len(t.Strides):len(t.Strides)],
		Offset: t.Offset + i*t.Strides[0], Data: t.Data}
}

// Slice returns the view of indices lo <= i < hi along dimension dim.
func (t *Tensor) Slice(dim, lo, hi int) *Tensor {
	if dim < 0 || dim >= len(t.Shape) || lo < 0 || hi < lo || hi > t.Shape[dim] {
		panic(fmt.Sprintf("tensor: Slice(%d, %d, %d) out of range for shape %v", dim, lo, hi, t.Shape))
	}
	v := &Tensor{Shape: append([]int(nil), t.Shape...), Strides: t.Strides, Offset: t.Offset, Data: t.Data}
	v.Shape[dim] = hi - lo
	if hi > lo {
		v.Offset += lo * t.Strides[dim]
	}
	return v
}

// Values returns the elements in row-major order: the shared storage when t
// is contiguous, a copy otherwise.
func (t *Tensor) Values() []float32 {
	n := t.Len()
	if t.Contiguous() {
		return t.Data[t.Offset : t.Offset+n : t.Offset+n]
	}
	out := make([]float32, 0, n)
	idx := make([]int, len(t.Shape))
	for range n {
		out = append(out, t.Data[t.offset(idx)])
		for d := len(idx) - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < t.Shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

// Reshape returns a tensor of the same elements with another shape, sharing
// storage when t is contiguous (a copy otherwise). It panics if the sizes
// differ.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	if Size(shape) != t.Len() {
		panic(fmt.Sprintf("tensor: cannot reshape %v to %v", t.Shape, shape))
	}
	return FromSlice(t.Values(), shape...)
}

// Matrix views a 2-D tensor whose rows are contiguous as a Matrix (no copy),
// e.g. the [B*T, F] input of a GEMM after Reshape. It panics otherwise.
func (t *Tensor) Matrix() Matrix {
	if len(t.Shape) != 2 || (t.Shape[1] > 1 && t.Strides[1] != 1) || (t.Shape[0] > 1 && t.Strides[0] < t.Shape[1]) {
		panic(fmt.Sprintf("tensor: Matrix of shape %v with strides %v", t.Shape, t.Strides))
	}
	r, c := t.Shape[0], t.Shape[1]
	stride := max(c, 1)
	if r > 1 {
		stride = t.Strides[0]
	}
	if r == 0 || c == 0 {
		return Matrix{Rows: r, Cols: c, Stride: stride}
	}
	return Matrix{Rows: r, Cols: c, Stride: stride, Data: t.Data[t.Offset : t.Offset+(r-1)*t.Strides[0]+c]}
}
