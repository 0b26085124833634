package perfpredict

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/internal/safetensors"
)

// tinyConfig keeps tests fast: one or two small layers.
func tinyConfig() Config {
	return Config{Hidden: 4, Layers: 2, Head: []int{8, 4}, BatchSize: 8, Epochs: 3, Seed: 7}
}

func randInput(seed uint64, n int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func encodeModel(t *testing.T, m *Model) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSaveLoadRoundTrip(t *testing.T) {
	m, err := New(tinyConfig(), 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	m.FeatureNames = []string{"cpu", "mem", "net"}
	m.Target = "latency_ms"
	m.Horizon = 12
	m.Scaler = &TargetScaler{Mean: []float64{10, -2}, Std: []float64{3, 0.5}}
	m.bn[0].NumBatchesTracked = 17
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.FeatureNames, m.FeatureNames) || got.Target != m.Target || got.Horizon != 12 ||
		!slices.Equal(got.Scaler.Mean, m.Scaler.Mean) || !slices.Equal(got.Scaler.Std, m.Scaler.Std) {
		t.Errorf("metadata lost: %+v", got)
	}
	if gc, mc := got.Config(), m.Config(); !slices.Equal(gc.Head, mc.Head) || gc.Hidden != mc.Hidden || gc.Layers != mc.Layers ||
		gc.Dropout != mc.Dropout || gc.Seed != mc.Seed || gc.BatchSize != mc.BatchSize || gc.LearningRate != mc.LearningRate {
		t.Errorf("config %+v, want %+v", gc, mc)
	}
	if got.bn[0].NumBatchesTracked != 17 {
		t.Errorf("num_batches_tracked = %d", got.bn[0].NumBatchesTracked)
	}
	x := randInput(1, 3*5*3)
	p1, a1, err := m.Predict(x, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	p2, a2, err := got.Predict(x, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p1, p2) || !slices.Equal(a1, a2) {
		t.Errorf("predictions differ after a round trip")
	}
	if !bytes.Equal(encodeModel(t, m), encodeModel(t, got)) {
		t.Errorf("re-encoding a loaded model changes its bytes")
	}
	// No temporary files left beside the checkpoint.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after Save, want 1", len(entries))
	}
}

// TestSavedLayoutMatchesReference: a Go model of the reference fixture's
// shape writes exactly the reference's tensor names, shapes and dtypes, and
// its metadata holds the reference's keys with the same values.
func TestSavedLayoutMatchesReference(t *testing.T) {
	ref, err := safetensors.ReadFile(filepath.Join("testdata", "fixtures", "model_l2k3", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Hidden: 16, Layers: 2}, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	mine, err := safetensors.Parse(encodeModel(t, m), "go")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ref.Names(), mine.Names()) {
		t.Fatalf("tensor names\n go:  %v\n ref: %v", mine.Names(), ref.Names())
	}
	for _, n := range ref.Names() {
		a, _ := ref.Tensor(n)
		b, _ := mine.Tensor(n)
		if a.Dtype() != b.Dtype() || !slices.Equal(a.Shape, b.Shape) {
			t.Errorf("%s: go %s%v, reference %s%v", n, b.Dtype(), b.Shape, a.Dtype(), a.Shape)
		}
	}
	for k, v := range ref.Metadata {
		if mine.Metadata[k] != v {
			t.Errorf("metadata %s = %q, reference %q", k, mine.Metadata[k], v)
		}
	}
}

// TestLoadErrors: every damaged checkpoint is an error naming what is wrong.
func TestLoadErrors(t *testing.T) {
	m, err := New(tinyConfig(), 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	good := encodeModel(t, m)
	f, err := safetensors.Parse(good, "good")
	if err != nil {
		t.Fatal(err)
	}
	rewrite := func(edit func(ts []safetensors.Tensor, md map[string]string) []safetensors.Tensor) []byte {
		ts := f.Tensors()
		md := map[string]string{}
		for k, v := range f.Metadata {
			md[k] = v
		}
		ts = edit(ts, md)
		var buf bytes.Buffer
		if err := safetensors.Encode(&buf, ts, md); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	drop := func(name string) []byte {
		return rewrite(func(ts []safetensors.Tensor, _ map[string]string) []safetensors.Tensor {
			return slices.DeleteFunc(ts, func(t safetensors.Tensor) bool { return t.Name == name })
		})
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", good[:len(good)-10], "m.safetensors"},
		{"header cut", good[:20], "m.safetensors"},
		{"missing tensor", drop("attention.score.weight"), "attention.score.weight"},
		{"missing counter", drop("head.bn2.num_batches_tracked"), "head.bn2.num_batches_tracked"},
		{"wrong shape", rewrite(func(ts []safetensors.Tensor, _ map[string]string) []safetensors.Tensor {
			for i := range ts {
				if ts[i].Name == "head.fc2.weight" {
					ts[i].Shape = []int{ts[i].Shape[1], ts[i].Shape[0]}
				}
			}
			return ts
		}), "head.fc2.weight"},
		{"config disagrees", rewrite(func(ts []safetensors.Tensor, md map[string]string) []safetensors.Tensor {
			md["hidden"] = "5"
			return ts
		}), "lstm.weight_ih_l0"},
		{"extra tensor", rewrite(func(ts []safetensors.Tensor, _ map[string]string) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "head.fc9.weight", Shape: []int{1}, F32: []float32{1}})
		}), "head.fc9.weight"},
		{"bad metadata", rewrite(func(ts []safetensors.Tensor, md map[string]string) []safetensors.Tensor {
			md["layers"] = "two"
			return ts
		}), "layers"},
		{"missing metadata", rewrite(func(ts []safetensors.Tensor, md map[string]string) []safetensors.Tensor {
			delete(md, "features")
			return ts
		}), "features"},
		{"bad scaler", rewrite(func(ts []safetensors.Tensor, md map[string]string) []safetensors.Tensor {
			md["perfpredict.scaler"] = `{"mean":[1,2],"std":[1,1]}`
			return ts
		}), "perfpredict.scaler"},
		{"wrong dtype", rewrite(func(ts []safetensors.Tensor, _ map[string]string) []safetensors.Tensor {
			for i := range ts {
				if ts[i].Name == "head.out.bias" {
					ts[i].F64, ts[i].F32 = []float64{0}, nil
				}
			}
			return ts
		}), "head.out.bias"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.data, "m.safetensors")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name %q", err, c.want)
			}
		})
	}
}

// FuzzDecode: no input makes Decode panic.
func FuzzDecode(f *testing.F) {
	m, err := New(Config{Hidden: 2, Layers: 1, Head: []int{2}}, 1, 1)
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		f.Fatal(err)
	}
	good := buf.Bytes()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	ref, err := os.ReadFile(filepath.Join("testdata", "fixtures", "model_l1", "model.safetensors"))
	if err == nil {
		f.Add(ref)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data, "fuzz")
		if err != nil {
			return
		}
		// A model that loads must predict (any finite shape it accepts).
		x := make([]float32, 2*3*m.Features())
		if _, _, err := m.Predict(x, 2, 3); err != nil {
			t.Fatalf("loaded model cannot predict: %v", err)
		}
	})
}

// TestLoadedModelTrains: Load releases gradient storage for serving;
// training a loaded model allocates it again.
func TestLoadedModelTrains(t *testing.T) {
	m, err := New(tinyConfig(), 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(encodeModel(t, m), "m")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got.trainable {
		if len(p.Grad) != 0 {
			t.Fatalf("%s keeps a gradient after Load", p.Name)
		}
	}
	before := encodeModel(t, got)
	if _, err := got.NewTrainer().Step(randInput(4, 4*5*3), randInput(5, 4), 4, 5); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(before, encodeModel(t, got)) {
		t.Error("a training step did not change the loaded model")
	}
}

// TestClone: a clone predicts identically and encodes to the same bytes;
// training it leaves the original untouched.
func TestClone(t *testing.T) {
	m, err := New(tinyConfig(), 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	m.FeatureNames = []string{"a", "b", "c"}
	m.Scaler = &TargetScaler{Mean: []float64{1, 2}, Std: []float64{3, 4}}
	orig := encodeModel(t, m)
	c := mustClone(t, m)
	if !bytes.Equal(orig, encodeModel(t, c)) {
		t.Fatal("clone encodes differently")
	}
	c.Scaler.Mean[0] = 99
	c.FeatureNames[0] = "z"
	if _, err := c.NewTrainer().Step(randInput(6, 4*5*3), randInput(7, 8), 4, 5); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(orig, encodeModel(t, m)) {
		t.Error("training the clone changed the original")
	}
	if bytes.Equal(orig, encodeModel(t, c)) {
		t.Error("training step did not change the clone")
	}
}
