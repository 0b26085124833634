package safetensors

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sampleTensors() []Tensor {
	return []Tensor{
		{Name: "z.weight", Shape: []int{2, 3}, F32: []float32{1, -2, 3.5, float32(math.Inf(1)), 0, -0.125}},
		{Name: "a.f64", Shape: []int{3}, F64: []float64{math.Pi, -1e300, 5e-324}},
		{Name: "m.count", Shape: []int{}, I64: []int64{-1 << 62}},
		{Name: "empty", Shape: []int{0, 4}, F32: []float32{}},
	}
}

func encode(t testing.TB, ts []Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, ts, meta); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	meta := map[string]string{"format": "perfmodel/1", "hidden": "128", "ünï": "\"quoted\"\n"}
	data := encode(t, sampleTensors(), meta)
	hlen := binary.LittleEndian.Uint64(data)
	if hlen%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", hlen)
	}
	f, err := Parse(data, "mem")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.f64", "empty", "m.count", "z.weight"}; !reflect.DeepEqual(f.Names(), want) {
		t.Errorf("Names() = %v, want %v", f.Names(), want)
	}
	if !reflect.DeepEqual(f.Metadata, meta) {
		t.Errorf("Metadata = %v, want %v", f.Metadata, meta)
	}
	for _, want := range sampleTensors() {
		got, ok := f.Tensor(want.Name)
		if !ok {
			t.Fatalf("tensor %q missing", want.Name)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("tensor %q = %+v, want %+v", want.Name, *got, want)
		}
	}
	// Re-encoding the parsed file gives the same bytes.
	if again := encode(t, f.Tensors(), f.Metadata); !bytes.Equal(again, data) {
		t.Error("re-encoding changed the bytes")
	}
}

func TestAccessors(t *testing.T) {
	f, err := Parse(encode(t, sampleTensors(), nil), "mem")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Metadata) != 0 {
		t.Errorf("Metadata = %v, want empty", f.Metadata)
	}
	d, shape, err := f.Float32("z.weight")
	if err != nil || len(d) != 6 || !reflect.DeepEqual(shape, []int{2, 3}) {
		t.Errorf("Float32 = %v %v %v", d, shape, err)
	}
	if _, _, err := f.Float32("a.f64"); err == nil || !strings.Contains(err.Error(), `"a.f64"`) {
		t.Errorf("Float32 on F64: err = %v, want one naming the tensor", err)
	}
	if _, _, err := f.Float32("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Float32 missing: err = %v", err)
	}
	if v, _, err := f.Float64("a.f64"); err != nil || v[0] != math.Pi {
		t.Errorf("Float64 = %v %v", v, err)
	}
	if v, _, err := f.Int64("m.count"); err != nil || v[0] != -1<<62 {
		t.Errorf("Int64 = %v %v", v, err)
	}
	if _, _, err := f.Int64("z.weight"); err == nil {
		t.Error("Int64 on F32: no error")
	}
}

// TestReferenceFile reads a file written by the save_safetensors of
// tools/fixtures/perfmodel.py (testdata/gen_reference.py) and checks that Encode reproduces it byte for byte.
func TestReferenceFile(t *testing.T) {
	path := filepath.Join("testdata", "reference.safetensors")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w, shape, err := f.Float32("lstm.weight_ih_l0")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(shape, []int{4, 3}) {
		t.Errorf("shape %v", shape)
	}
	for i, v := range w {
		if want := float32(i)*0.25 - 1.5; v != want {
			t.Errorf("weight[%d] = %v, want %v", i, v, want)
		}
	}
	f64, _, err := f.Float64("b.f64")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range f64 {
		if want := float64(i) / 3; v != want {
			t.Errorf("b.f64[%d] = %v, want %v", i, v, want)
		}
	}
	i64, _, err := f.Int64("a.i64")
	if err != nil || !reflect.DeepEqual(i64, []int64{-2, 0, 7, 1 << 40}) {
		t.Errorf("a.i64 = %v, %v", i64, err)
	}
	s, shape, err := f.Float32("scalar")
	if err != nil || len(s) != 1 || s[0] != 3.5 || len(shape) != 0 {
		t.Errorf("scalar = %v %v %v", s, shape, err)
	}
	e, shape, err := f.Float32("empty")
	if err != nil || len(e) != 0 || !reflect.DeepEqual(shape, []int{0, 3}) {
		t.Errorf("empty = %v %v %v", e, shape, err)
	}
	wantMeta := map[string]string{"dropout": "0.2", "format": "perfmodel/1", "head": "128,64,32", "name": "café \"q\""}
	if !reflect.DeepEqual(f.Metadata, wantMeta) {
		t.Errorf("metadata %v", f.Metadata)
	}
	if again := encode(t, f.Tensors(), f.Metadata); !bytes.Equal(again, raw) {
		t.Errorf("Encode differs from the reference's bytes:\n got %q\nwant %q", again, raw)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, sampleTensors(), map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["k"] != "v" || len(f.Names()) != 4 {
		t.Errorf("read back %v %v", f.Names(), f.Metadata)
	}
	// A failing encode leaves the old file and no temporary behind.
	bad := []Tensor{{Name: "x", Shape: []int{3}, F32: []float32{1}}}
	err = WriteFile(path, bad, nil)
	if err == nil || !strings.Contains(err.Error(), `"x"`) || !strings.Contains(err.Error(), path) {
		t.Errorf("WriteFile(bad) err = %v, want one naming the tensor and the path", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after a failed write, want 1", len(entries))
	}
	if _, err := ReadFile(path); err != nil {
		t.Errorf("old file damaged: %v", err)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "m.safetensors"), sampleTensors(), nil); err == nil {
		t.Error("WriteFile into a missing directory: no error")
	}
	if _, err := ReadFile(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("ReadFile(missing) err = %v", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	cases := map[string][]Tensor{
		"duplicate":  {{Name: "a", Shape: []int{1}, F32: []float32{1}}, {Name: "a", Shape: []int{1}, F32: []float32{1}}},
		"no data":    {{Name: "a", Shape: []int{0}}},
		"two dtypes": {{Name: "a", Shape: []int{1}, F32: []float32{1}, F64: []float64{1}}},
		"shape":      {{Name: "a", Shape: []int{2, 2}, F32: []float32{1, 2, 3}}},
		"negative":   {{Name: "a", Shape: []int{-1, -1}, F32: []float32{1}}},
		"reserved":   {{Name: "__metadata__", Shape: []int{1}, F32: []float32{1}}},
	}
	for name, ts := range cases {
		if err := Encode(&bytes.Buffer{}, ts, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// withHeader builds a file from a literal header and a data section.
func withHeader(header string, body []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(out, header...), body...)
}

func TestParseErrors(t *testing.T) {
	good := encode(t, sampleTensors(), map[string]string{"a": "b"})
	hugeLen := binary.LittleEndian.AppendUint64(nil, math.MaxUint64)
	cases := []struct {
		name string
		data []byte
		want []string // substrings of the error
	}{
		{"empty", nil, []string{"truncated"}},
		{"short", []byte{1, 2, 3}, []string{"truncated"}},
		{"truncated data", good[:len(good)-3], []string{"z.weight"}},
		{"truncated header", good[:20], []string{"header length"}},
		{"huge header length", append(hugeLen, "{}"...), []string{"exceeds"}},
		{"bad json", withHeader(`{"a":{"dtype":"F32",`, nil), []string{"header"}},
		{"not object", withHeader(`[1,2]   `, nil), []string{"not a JSON object"}},
		{"trailing", withHeader(`{} {}`, nil), []string{"trailing"}},
		{"unknown dtype", withHeader(`{"w":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}`, make([]byte, 2)), []string{`"w"`, "BF16"}},
		{"shape mismatch", withHeader(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), []string{`"w"`, "12 bytes"}},
		{"negative dim", withHeader(`{"w":{"dtype":"F32","shape":[-1,-2],"data_offsets":[0,8]}}`, make([]byte, 8)), []string{`"w"`, "negative"}},
		{"overflow dims", withHeader(`{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, make([]byte, 8)), []string{`"w"`, "too large"}},
		{"out of range", withHeader(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 8)), []string{`"w"`, "past the end"}},
		{"reversed", withHeader(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, make([]byte, 8)), []string{`"w"`, "increasing"}},
		{"negative offset", withHeader(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, make([]byte, 8)), []string{`"w"`}},
		{"offsets count", withHeader(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, make([]byte, 4)), []string{`"w"`, "2"}},
		{"overlap", withHeader(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), []string{`"b"`, "overlap"}},
		{"gap", withHeader(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)), []string{`"b"`, "gap"}},
		{"trailing data", withHeader(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 8)), []string{"cover 4"}},
		{"duplicate", withHeader(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), []string{`"a"`, "duplicate"}},
		{"missing dtype", withHeader(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), []string{`"a"`, "dtype"}},
		{"missing shape", withHeader(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, make([]byte, 4)), []string{`"a"`, "shape"}},
		{"missing offsets", withHeader(`{"a":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)), []string{`"a"`, "data_offsets"}},
		{"fractional", withHeader(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, make([]byte, 4)), []string{`"a"`}},
		{"metadata not string", withHeader(`{"__metadata__":{"k":1}}`, nil), []string{"__metadata__", `"k"`}},
		{"metadata twice", withHeader(`{"__metadata__":{},"__metadata__":{}}`, nil), []string{"duplicate"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.data, "bad.safetensors")
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range append(c.want, "bad.safetensors") {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and whatever
// it accepts must survive Encode and Parse unchanged.
func FuzzParse(f *testing.F) {
	f.Add(encode(f, sampleTensors(), map[string]string{"format": "perfmodel/1"}))
	f.Add(encode(f, nil, nil))
	if raw, err := os.ReadFile(filepath.Join("testdata", "reference.safetensors")); err == nil {
		f.Add(raw)
		f.Add(raw[:len(raw)-1])
	}
	f.Add(withHeader(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}`, make([]byte, 16)))
	f.Add(withHeader(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"__metadata__":{"x":"y"}}`, make([]byte, 8)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data, "fuzz")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz") {
				t.Errorf("error %q does not name the source", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := Encode(&buf, file.Tensors(), file.Metadata); err != nil {
			t.Fatalf("Encode of a parsed file: %v", err)
		}
		again, err := Parse(buf.Bytes(), "again")
		if err != nil {
			t.Fatalf("Parse of re-encoded file: %v", err)
		}
		if !reflect.DeepEqual(again.Names(), file.Names()) || !sameMeta(again.Metadata, file.Metadata) {
			t.Fatalf("round trip changed names or metadata")
		}
		for _, n := range file.Names() {
			a, _ := file.Tensor(n)
			b, _ := again.Tensor(n)
			if fmt.Sprint(a.Shape) != fmt.Sprint(b.Shape) || a.Dtype() != b.Dtype() || !sameBits(a, b) {
				t.Fatalf("round trip changed tensor %q", n)
			}
		}
	})
}

func sameMeta(a, b map[string]string) bool { return reflect.DeepEqual(a, b) }

// sameBits compares element bit patterns (NaN payloads included).
func sameBits(a, b *Tensor) bool {
	switch {
	case a.F32 != nil:
		for i := range a.F32 {
			if math.Float32bits(a.F32[i]) != math.Float32bits(b.F32[i]) {
				return false
			}
		}
	case a.F64 != nil:
		for i := range a.F64 {
			if math.Float64bits(a.F64[i]) != math.Float64bits(b.F64[i]) {
				return false
			}
		}
	default:
		return reflect.DeepEqual(a.I64, b.I64)
	}
	return true
}

func ExampleEncode() {
	var buf bytes.Buffer
	err := Encode(&buf, []Tensor{{Name: "w", Shape: []int{2}, F32: []float32{1, 2}}}, map[string]string{"format": "perfmodel/1"})
	if err != nil {
		panic(err)
	}
	f, err := Parse(buf.Bytes(), "example")
	if err != nil {
		panic(err)
	}
	w, shape, _ := f.Float32("w")
	fmt.Println(f.Names(), shape, w, f.Metadata["format"])
	// Output: [w] [2] [1 2] perfmodel/1
}
