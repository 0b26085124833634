package tensor

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestMatrixViews(t *testing.T) {
	m := NewMatrix(4, 5)
	for i := range 4 {
		for j := range 5 {
			m.Set(i, j, float32(10*i+j))
		}
	}
	v := m.View(1, 2, 2, 3)
	if v.Rows != 2 || v.Cols != 3 || v.Stride != 5 || v.At(0, 0) != 12 || v.At(1, 2) != 24 {
		t.Fatalf("view %+v", v)
	}
	v.Set(1, 1, -1)
	if m.At(2, 3) != -1 {
		t.Fatal("write through view not visible")
	}
	if r := v.Row(1); len(r) != 3 || cap(r) != 3 || r[0] != 22 {
		t.Fatalf("row %v (cap %d)", r, cap(r))
	}
	c := v.Clone()
	c.Set(0, 0, 99)
	if c.Stride != 3 || m.At(1, 2) != 12 || c.At(1, 1) != -1 {
		t.Fatalf("clone %+v", c)
	}
	if e := m.View(4, 5, 0, 0); e.Rows != 0 || len(e.Data) != 0 {
		t.Fatalf("empty view %+v", e)
	}
}

func TestMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, transA := range []bool{false, true} {
		for _, transB := range []bool{false, true} {
			// op(a) 3×4, op(b) 4×5, taken as views of wider matrices.
			a := NewMatrix(6, 7)
			b := NewMatrix(6, 7)
			for _, x := range []Matrix{a, b} {
				for i := range x.Data {
					x.Data[i] = float32(rng.IntN(7) - 3)
				}
			}
			av, bv := a.View(1, 1, 3, 4), b.View(2, 0, 4, 5)
			if transA {
				av = a.View(1, 1, 4, 3)
			}
			if transB {
				bv = b.View(1, 0, 5, 4)
			}
			get := func(x Matrix, tr bool, i, j int) float32 {
				if tr {
					return x.At(j, i)
				}
				return x.At(i, j)
			}
			c := NewMatrix(4, 6).View(0, 1, 3, 5)
			c.Set(2, 4, 1)
			Mul(c, 2, av, transA, bv, transB, 0.5)
			for i := range 3 {
				for j := range 5 {
					var s float32
					for p := range 4 {
						s += get(av, transA, i, p) * get(bv, transB, p, j)
					}
					want := 2 * s
					if i == 2 && j == 4 {
						want += 0.5
					}
					if c.At(i, j) != want {
						t.Fatalf("transA=%v transB=%v: C[%d][%d] = %v, want %v", transA, transB, i, j, c.At(i, j), want)
					}
				}
			}
		}
	}
}

func TestTensorViews(t *testing.T) {
	data := make([]float32, 2*3*4)
	for i := range data {
		data[i] = float32(i)
	}
	x := FromSlice(data, 2, 3, 4)
	if x.At(1, 2, 3) != 23 || !x.Contiguous() || x.Len() != 24 {
		t.Fatalf("At/Contiguous/Len on %+v", x)
	}
	seq := x.Index(1) // [3,4]
	if seq.At(0, 1) != 13 || len(seq.Shape) != 2 || !seq.Contiguous() {
		t.Fatalf("Index: %+v", seq)
	}
	s := x.Slice(2, 1, 3) // [2,3,2]
	if s.Contiguous() || s.At(1, 0, 0) != 13 || s.At(0, 2, 1) != 10 {
		t.Fatalf("Slice: %+v", s)
	}
	want := []float32{1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22}
	if got := s.Values(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Values = %v, want %v", got, want)
	}
	s.Set(-5, 1, 2, 1)
	if x.At(1, 2, 2) != -5 {
		t.Fatal("write through slice not visible")
	}
	r := x.Reshape(6, 4)
	if &r.Data[0] != &data[0] {
		t.Fatal("Reshape of a contiguous tensor copied")
	}
	m := r.Matrix()
	if m.Rows != 6 || m.Cols != 4 || m.At(5, 2) != -5 {
		t.Fatalf("Matrix %+v", m)
	}
	cols := r.Slice(1, 1, 3).Matrix() // rows strided by 4, 2 columns
	if cols.Stride != 4 || cols.At(1, 0) != 5 {
		t.Fatalf("column view %+v", cols)
	}
	if e := x.Slice(0, 1, 1); e.Len() != 0 || len(e.Values()) != 0 {
		t.Fatalf("empty slice %+v", e)
	}
}

func TestPanics(t *testing.T) {
	x := New(2, 3)
	m := NewMatrix(2, 3)
	for name, f := range map[string]func(){
		"at":        func() { x.At(2, 0) },
		"at arity":  func() { x.At(1) },
		"index":     func() { x.Index(2) },
		"slice":     func() { x.Slice(1, 2, 4) },
		"reshape":   func() { x.Reshape(4, 2) },
		"fromslice": func() { FromSlice(make([]float32, 5), 2, 3) },
		"negative":  func() { New(2, -1) },
		"matrix 3d": func() { New(1, 2, 3).Matrix() },
		"matrix cols": func() {
			FromSlice(make([]float32, 6), 3, 2).Slice(0, 0, 3).Reshape(2, 3).Slice(0, 0, 2).Index(0).Matrix()
		},
		"mat at":   func() { m.At(0, 3) },
		"mat view": func() { m.View(1, 1, 2, 1) },
		"mat row":  func() { m.Row(-1) },
		"matrixof": func() { MatrixOf(2, 2, make([]float32, 3)) },
		"mul":      func() { Mul(NewMatrix(2, 2), 1, m, false, m, false, 0) },
	} {
		func() {
			defer func() {
				r := recover()
				if msg, ok := r.(string); !ok || !strings.HasPrefix(msg, "tensor: ") {
					t.Errorf("%s: recovered %v, want a \"tensor: \" panic", name, r)
				}
			}()
			f()
		}()
	}
}

func ExampleMatrix() {
	// A 2×3 weight matrix times the transpose of a 1×3 input row: y = W·x.
	w := MatrixOf(2, 3, []float32{1, 2, 3, 4, 5, 6})
	x := MatrixOf(1, 3, []float32{1, 0, -1})
	y := NewMatrix(2, 1)
	Mul(y, 1, w, false, x, true, 0)
	fmt.Println(y.Data, w.View(0, 1, 2, 2).Row(1))
	// Output: [-2 -2] [5 6]
}

func ExampleTensor() {
	// A batch of 2 sequences of 3 steps with 2 features, batch first.
	x := FromSlice([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 2, 3, 2)
	last := x.Slice(1, 2, 3)                        // the last step of every sequence: [2,1,2]
	fmt.Println(last.Values(), x.Index(1).At(0, 1)) // features of the last steps; sequence 1, step 0, feature 1
	fmt.Println(x.Reshape(6, 2).Matrix().Row(4))    // rows of the [B*T, F] GEMM input
	// Output:
	// [5 6 11 12] 8
	// [9 10]
}
