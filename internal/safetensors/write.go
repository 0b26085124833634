package safetensors

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf16"
	"unicode/utf8"
)

// Encode writes tensors and metadata in the safetensors format. Tensors are
// written sorted by name whatever their order in the slice; the header is the
// compact JSON the reference's save_safetensors writes (ASCII-escaped like
// Python's json.dumps, metadata keys sorted, "__metadata__" last, omitted when
// empty) padded with spaces to a multiple of 8 bytes.
func Encode(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(tensors[a].Name, tensors[b].Name) })

	var hdr strings.Builder
	hdr.WriteByte('{')
	var off int64
	for k, i := range order {
		t := &tensors[i]
		if t.Name == metadataKey {
			return fmt.Errorf("safetensors: tensor name %q is reserved", t.Name)
		}
		if k > 0 && tensors[order[k-1]].Name == t.Name {
			return fmt.Errorf("safetensors: tensor %q: duplicate name", t.Name)
		}
		set := 0
		for _, nonNil := range []bool{t.F32 != nil, t.F64 != nil, t.I64 != nil} {
			if nonNil {
				set++
			}
		}
		if set != 1 {
			return fmt.Errorf("safetensors: tensor %q: %d of F32, F64, I64 are set, want exactly 1", t.Name, set)
		}
		count := 1
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("safetensors: tensor %q: shape %v has a negative dimension", t.Name, t.Shape)
			}
			count *= d
		}
		if count != t.Len() {
			return fmt.Errorf("safetensors: tensor %q: shape %v holds %d elements but the data has %d", t.Name, t.Shape, count, t.Len())
		}
		if k > 0 {
			hdr.WriteByte(',')
		}
		writeJSONString(&hdr, t.Name)
		hdr.WriteString(`:{"dtype":"`)
		hdr.WriteString(t.Dtype())
		hdr.WriteString(`","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				hdr.WriteByte(',')
			}
			hdr.WriteString(strconv.Itoa(d))
		}
		size := int64(t.Len()) * int64(elemSize(t.Dtype()))
		fmt.Fprintf(&hdr, `],"data_offsets":[%d,%d]}`, off, off+size)
		off += size
	}
	if len(metadata) > 0 {
		if len(tensors) > 0 {
			hdr.WriteByte(',')
		}
		writeJSONString(&hdr, metadataKey)
		hdr.WriteString(":{")
		for j, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range metadata {
				if !yield(k) {
					return
				}
			}
		}) {
			if j > 0 {
				hdr.WriteByte(',')
			}
			writeJSONString(&hdr, k)
			hdr.WriteByte(':')
			writeJSONString(&hdr, metadata[k])
		}
		hdr.WriteByte('}')
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}

	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(hdr.Len()))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := io.WriteString(w, hdr.String()); err != nil {
		return err
	}
	// Element data, converted in chunks so a large tensor needs no copy of
	// its own size.
	var buf [8192]byte
	for _, i := range order {
		t := &tensors[i]
		var err error
		switch {
		case t.F32 != nil:
			err = writeChunks(w, buf[:], len(t.F32), 4, func(dst []byte, j int) {
				binary.LittleEndian.PutUint32(dst, math.Float32bits(t.F32[j]))
			})
		case t.F64 != nil:
			err = writeChunks(w, buf[:], len(t.F64), 8, func(dst []byte, j int) {
				binary.LittleEndian.PutUint64(dst, math.Float64bits(t.F64[j]))
			})
		default:
			err = writeChunks(w, buf[:], len(t.I64), 8, func(dst []byte, j int) {
				binary.LittleEndian.PutUint64(dst, uint64(t.I64[j]))
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeChunks writes n elements of the given byte size, each put by put.
func writeChunks(w io.Writer, buf []byte, n, size int, put func(dst []byte, j int)) error {
	per := len(buf) / size
	for j := 0; j < n; j += per {
		m := min(per, n-j)
		for q := 0; q < m; q++ {
			put(buf[q*size:], j+q)
		}
		if _, err := w.Write(buf[:m*size]); err != nil {
			return err
		}
	}
	return nil
}

// writeJSONString quotes s as Python's json.dumps does with ensure_ascii:
// non-ASCII as \uXXXX (surrogate pairs beyond the BMP), control characters
// escaped, '<', '>' and '&' left alone.
func writeJSONString(sb *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	u4 := func(r rune) {
		sb.WriteString(`\u`)
		sb.WriteByte(hex[r>>12&0xf])
		sb.WriteByte(hex[r>>8&0xf])
		sb.WriteByte(hex[r>>4&0xf])
		sb.WriteByte(hex[r&0xf])
	}
	sb.WriteByte('"')
	for _, r := range s { // invalid UTF-8 reads as U+FFFD
		switch {
		case r == '"':
			sb.WriteString(`\"`)
		case r == '\\':
			sb.WriteString(`\\`)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r == '\b':
			sb.WriteString(`\b`)
		case r == '\f':
			sb.WriteString(`\f`)
		case r < 0x20 || r == 0x7f:
			u4(r)
		case r < utf8.RuneSelf:
			sb.WriteByte(byte(r))
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			u4(r1)
			u4(r2)
		default:
			u4(r)
		}
	}
	sb.WriteByte('"')
}

// WriteFile writes tensors and metadata to path atomically: the data goes to
// a temporary file in the same directory, which is synced, closed and renamed
// over path, and the directory is synced so the rename survives a crash. On
// any failure the temporary file is removed and path is left as it was.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<16)
	if err = Encode(bw, tensors, metadata); err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("safetensors: syncing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("safetensors: closing %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil {
		serr := d.Sync()
		d.Close()
		// Some file systems cannot sync a directory; the data itself is safe.
		if serr != nil && !errors.Is(serr, os.ErrInvalid) && !isNotSupported(serr) {
			return fmt.Errorf("safetensors: syncing directory %s: %w", dir, serr)
		}
	}
	return nil
}

// isNotSupported reports errors of file systems that cannot sync a directory.
func isNotSupported(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}
