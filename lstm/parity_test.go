package lstm

import (
	"math"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/novacron/perfpredict/asm"
	"github.com/novacron/perfpredict/internal/safetensors"
)

// fixtureCase is one nn.LSTM case written by tools/fixtures/lstm_fixture.py.
type fixtureCase struct {
	file       *safetensors.File
	stack      *Stack
	batch, T   int
	x, r, out  []float32
	dx         []float32
	paramGrads map[string][]float32
}

func loadFixture(t *testing.T, name string) *fixtureCase {
	t.Helper()
	path := filepath.Join("..", "testdata", "fixtures", "lstm", name+".safetensors")
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	meta := func(k string) int {
		v, err := strconv.Atoi(f.Metadata[k])
		if err != nil {
			t.Fatalf("%s: metadata %q: %v", path, k, err)
		}
		return v
	}
	cfg := Config{Input: meta("input"), Hidden: meta("hidden"), Layers: meta("layers"), Bidirectional: meta("bidirectional") == 1}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) []float32 {
		v, _, err := f.Float32(name)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return v
	}
	fc := &fixtureCase{file: f, stack: s, batch: meta("batch"), T: meta("steps"), paramGrads: map[string][]float32{}}
	for _, p := range s.Params() {
		v, shape, err := f.Float32(p.Name)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(v) != len(p.Data) {
			t.Fatalf("%s: %s has shape %v, want %v", path, p.Name, shape, p.Shape)
		}
		copy(p.Data, v)
		fc.paramGrads[p.Name] = get("grad." + p.Name)
	}
	fc.x, fc.r, fc.out, fc.dx = get("x"), get("r"), get("out"), get("grad.x")
	return fc
}

// closeTo checks got against want: |got-want| <= tol*max(1, |want|).
func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst, at := 0.0, -1
	for i := range want {
		d := math.Abs(float64(got[i])-float64(want[i])) / math.Max(1, math.Abs(float64(want[i])))
		if !(d <= worst) { // also catches NaN
			worst, at = d, i
		}
	}
	t.Logf("%s: worst relative error %.3g", what, worst)
	if worst > tol || math.IsNaN(worst) {
		t.Errorf("%s: worst error %.3g at %d (got %v, want %v), tolerance %g", what, worst, at, got[at], want[at], tol)
	}
}

var fixtureNames = []string{"bi_l2_f5_h16_b3_t7", "uni_l1_f4_h8_b2_t5", "uni_l2_f3_h6_b4_t9", "seed_l3_f30_h16_b2_t60"}

// TestParityPyTorch compares output, input gradient and every parameter
// gradient with nn.LSTM for the same weights, input and loss sum(out*r).
// It runs once per kernel level this machine supports.
func TestParityPyTorch(t *testing.T) {
	for _, level := range asm.Supported() {
		t.Run(level.String(), func(t *testing.T) {
			prev, err := asm.SetLevel(level)
			if err != nil {
				t.Fatal(err)
			}
			defer asm.SetLevel(prev)
			testParity(t)
		})
	}
}

func testParity(t *testing.T) {
	for _, name := range fixtureNames {
		for _, serial := range []bool{false, true} {
			t.Run(name+"/serial="+strconv.FormatBool(serial), func(t *testing.T) {
				fc := loadFixture(t, name)
				s := fc.stack
				ws := s.NewWorkspace()
				ws.Serial = serial
				out, err := s.Forward(ws, fc.x, fc.batch, fc.T, false)
				if err != nil {
					t.Fatal(err)
				}
				closeTo(t, "eval out", out, fc.out, 1e-5)
				out, err = s.Forward(ws, fc.x, fc.batch, fc.T, true)
				if err != nil {
					t.Fatal(err)
				}
				closeTo(t, "train out", out, fc.out, 1e-5)
				dx := s.Backward(ws, fc.r)
				closeTo(t, "grad.x", dx, fc.dx, 1e-4)
				for _, p := range s.Params() {
					closeTo(t, "grad."+p.Name, p.Grad, fc.paramGrads[p.Name], 1e-4)
				}
			})
		}
	}
}
