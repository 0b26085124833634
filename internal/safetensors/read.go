// Package safetensors reads and writes the safetensors checkpoint format:
// an 8-byte little-endian header length, a JSON header that maps each tensor
// name to its dtype, shape and byte range (plus an optional "__metadata__"
// map of strings), then the tensors' little-endian bytes back to back.
//
// Parse and ReadFile turn bytes into a File whose tensors are decoded into Go
// slices (F32, F64 or I64); Encode and WriteFile do the reverse, writing the
// header exactly as the reference's save_safetensors does (compact JSON,
// tensors sorted by name, metadata last, padded with spaces to a multiple of
// 8 bytes). Every malformed input is an error that names the source and, where
// there is one, the tensor at fault; nothing panics on user data.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
)

// MaxHeaderSize bounds the JSON header, so that a corrupt length field cannot
// make Parse allocate or scan an absurd amount (the reference implementation
// uses the same 100 MB limit).
const MaxHeaderSize = 100 << 20

// metadataKey is the reserved header entry holding string metadata.
const metadataKey = "__metadata__"

// Dtype codes as they appear in the header.
const (
	DtypeF32 = "F32"
	DtypeF64 = "F64"
	DtypeI64 = "I64"
)

// Tensor is one named tensor. Exactly one of F32, F64 and I64 is non-nil
// (possibly empty for a tensor with a zero dimension); its length is the
// product of Shape.
type Tensor struct {
	Name  string
	Shape []int
	F32   []float32
	F64   []float64
	I64   []int64
}

// Dtype names the element type ("F32", "F64", "I64"), or "" when no data
// slice is set.
func (t *Tensor) Dtype() string {
	switch {
	case t.F32 != nil:
		return DtypeF32
	case t.F64 != nil:
		return DtypeF64
	case t.I64 != nil:
		return DtypeI64
	}
	return ""
}

// Len is the number of elements held.
func (t *Tensor) Len() int {
	switch {
	case t.F32 != nil:
		return len(t.F32)
	case t.F64 != nil:
		return len(t.F64)
	}
	return len(t.I64)
}

// File is a parsed safetensors file.
type File struct {
	// Metadata is the "__metadata__" map (empty, not nil, when absent).
	Metadata map[string]string
	tensors  map[string]*Tensor
	names    []string
}

// Names lists the tensor names in sorted order.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Tensor returns the tensor called name.
func (f *File) Tensor(name string) (*Tensor, bool) {
	t, ok := f.tensors[name]
	return t, ok
}

// Tensors returns all tensors sorted by name.
func (f *File) Tensors() []Tensor {
	out := make([]Tensor, 0, len(f.names))
	for _, n := range f.names {
		out = append(out, *f.tensors[n])
	}
	return out
}

// Float32 returns the data and shape of the F32 tensor called name; the error
// names the tensor when it is missing or has another dtype.
func (f *File) Float32(name string) ([]float32, []int, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, nil, fmt.Errorf("safetensors: tensor %q not found", name)
	}
	if t.F32 == nil {
		return nil, nil, fmt.Errorf("safetensors: tensor %q has dtype %s, want F32", name, t.Dtype())
	}
	return t.F32, t.Shape, nil
}

// Float64 is Float32 for F64 tensors.
func (f *File) Float64(name string) ([]float64, []int, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, nil, fmt.Errorf("safetensors: tensor %q not found", name)
	}
	if t.F64 == nil {
		return nil, nil, fmt.Errorf("safetensors: tensor %q has dtype %s, want F64", name, t.Dtype())
	}
	return t.F64, t.Shape, nil
}

// Int64 is Float32 for I64 tensors.
func (f *File) Int64(name string) ([]int64, []int, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, nil, fmt.Errorf("safetensors: tensor %q not found", name)
	}
	if t.I64 == nil {
		return nil, nil, fmt.Errorf("safetensors: tensor %q has dtype %s, want I64", name, t.Dtype())
	}
	return t.I64, t.Shape, nil
}

// ReadFile reads and parses the file at path; errors name the path.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return Parse(data, path)
}

// headerEntry is one tensor's description in the JSON header.
type headerEntry struct {
	Dtype       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// span is a tensor's validated byte range in the data section.
type span struct {
	name       string
	begin, end int64
}

// Parse decodes a whole safetensors file held in data. source names the file
// in error messages.
func Parse(data []byte, source string) (*File, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("safetensors: %s: %s", source, fmt.Sprintf(format, args...))
	}
	if len(data) < 8 {
		return nil, fail("truncated: %d bytes, need at least 8 for the header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data[:8])
	if n > MaxHeaderSize {
		return nil, fail("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, fail("header length %d is longer than the %d bytes after the length field (truncated file?)", n, len(data)-8)
	}
	header := data[8 : 8+n]
	body := data[8+n:]
	if len(bytes.TrimLeft(header, " \t\r\n")) == 0 || bytes.TrimLeft(header, " \t\r\n")[0] != '{' {
		return nil, fail("header is not a JSON object")
	}

	entries, order, meta, err := decodeHeader(header)
	if err != nil {
		return nil, fail("header: %v", err)
	}
	f := &File{Metadata: meta, tensors: make(map[string]*Tensor, len(order))}
	spans := make([]span, 0, len(order))
	for _, name := range order {
		t, sp, err := decodeTensor(name, entries[name], body)
		if err != nil {
			return nil, fail("tensor %q: %v", name, err)
		}
		f.tensors[name] = t
		spans = append(spans, sp)
	}
	// The data section must be covered exactly: no overlap, no gap, no
	// trailing bytes (as the reference implementation requires).
	sort.SliceStable(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	var pos int64
	for _, sp := range spans {
		if sp.begin < pos {
			return nil, fail("tensor %q: data_offsets [%d, %d] overlap the previous tensor, which ends at %d", sp.name, sp.begin, sp.end, pos)
		}
		if sp.begin > pos {
			return nil, fail("tensor %q: data_offsets [%d, %d] leave a gap after byte %d", sp.name, sp.begin, sp.end, pos)
		}
		pos = sp.end
	}
	if pos != int64(len(body)) {
		return nil, fail("tensors cover %d data bytes but the file holds %d after the header", pos, len(body))
	}
	f.names = slices.Sorted(func(yield func(string) bool) {
		for n := range f.tensors {
			if !yield(n) {
				return
			}
		}
	})
	return f, nil
}

// decodeHeader walks the top-level JSON object token by token so that
// duplicate names are caught (a map decode would keep the last silently).
func decodeHeader(header []byte) (map[string]headerEntry, []string, map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, nil, errors.New("not a JSON object")
	}
	entries := map[string]headerEntry{}
	var order []string
	meta := map[string]string{}
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, nil, fmt.Errorf("unexpected token %v", tok)
		}
		if key == metadataKey {
			if seenMeta {
				return nil, nil, nil, fmt.Errorf("duplicate %q", metadataKey)
			}
			seenMeta = true
			var raw map[string]any
			if err := dec.Decode(&raw); err != nil {
				return nil, nil, nil, fmt.Errorf("%s: %v", metadataKey, err)
			}
			for k, v := range raw {
				s, ok := v.(string)
				if !ok {
					return nil, nil, nil, fmt.Errorf("%s: value of %q is not a string", metadataKey, k)
				}
				meta[k] = s
			}
			continue
		}
		if _, dup := entries[key]; dup {
			return nil, nil, nil, fmt.Errorf("tensor %q: duplicate name", key)
		}
		var e headerEntry
		if err := dec.Decode(&e); err != nil {
			return nil, nil, nil, fmt.Errorf("tensor %q: %v", key, err)
		}
		entries[key] = e
		order = append(order, key)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, nil, err
	}
	// Only padding may follow the object.
	tail := header[dec.InputOffset():]
	if len(bytes.Trim(tail, " \t\r\n")) != 0 {
		return nil, nil, nil, errors.New("trailing data after the JSON object")
	}
	return entries, order, meta, nil
}

// elemSize is the byte width of each supported dtype.
func elemSize(dtype string) int {
	switch dtype {
	case DtypeF32:
		return 4
	case DtypeF64, DtypeI64:
		return 8
	}
	return 0
}

// decodeTensor validates one header entry against the data section and
// decodes its elements.
func decodeTensor(name string, e headerEntry, body []byte) (*Tensor, span, error) {
	sp := span{name: name}
	if e.Dtype == nil {
		return nil, sp, errors.New("missing dtype")
	}
	if e.Shape == nil {
		return nil, sp, errors.New("missing shape")
	}
	if e.DataOffsets == nil {
		return nil, sp, errors.New("missing data_offsets")
	}
	size := elemSize(*e.Dtype)
	if size == 0 {
		return nil, sp, fmt.Errorf("unsupported dtype %q (want F32, F64 or I64)", *e.Dtype)
	}
	offs := *e.DataOffsets
	if len(offs) != 2 {
		return nil, sp, fmt.Errorf("data_offsets has %d values, want 2", len(offs))
	}
	begin, end := offs[0], offs[1]
	if begin < 0 || end < begin {
		return nil, sp, fmt.Errorf("data_offsets [%d, %d] are not an increasing pair of non-negative offsets", begin, end)
	}
	if end > int64(len(body)) {
		return nil, sp, fmt.Errorf("data_offsets [%d, %d] run past the end of the data (%d bytes; truncated file?)", begin, end, len(body))
	}
	shape := make([]int, len(*e.Shape))
	count := int64(1)
	for i, d := range *e.Shape {
		if d < 0 {
			return nil, sp, fmt.Errorf("shape %v has a negative dimension", *e.Shape)
		}
		shape[i] = int(d)
		if d != 0 && count > math.MaxInt64/int64(size)/d {
			return nil, sp, fmt.Errorf("shape %v is too large", *e.Shape)
		}
		count *= d
	}
	if count*int64(size) != end-begin {
		return nil, sp, fmt.Errorf("shape %v of %s needs %d bytes but data_offsets [%d, %d] hold %d", *e.Shape, *e.Dtype, count*int64(size), begin, end, end-begin)
	}
	raw := body[begin:end]
	t := &Tensor{Name: name, Shape: shape}
	switch *e.Dtype {
	case DtypeF32:
		t.F32 = make([]float32, count)
		for i := range t.F32 {
			t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case DtypeF64:
		t.F64 = make([]float64, count)
		for i := range t.F64 {
			t.F64[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case DtypeI64:
		t.I64 = make([]int64, count)
		for i := range t.I64 {
			t.I64[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	}
	sp.begin, sp.end = begin, end
	return t, sp, nil
}
