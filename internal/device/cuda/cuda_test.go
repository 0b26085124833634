//go:build cuda && cgo

package cuda

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/internal/device"
	"github.com/novacron/perfpredict/internal/device/cuda/fakecuda"
)

func TestLoaderMissingLibraries(t *testing.T) {
	dir := t.TempDir()
	err := loadAll(dir, true)
	if err == nil {
		t.Fatal("loading from an empty directory succeeded")
	}
	for _, want := range []string{"libcudart.so.13 not found in " + dir, "libcudart.so.12", LibsEnv} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	loadMu.Lock()
	already := loaded
	loadMu.Unlock()
	if already {
		return // this process has the real libraries: Open would not reload
	}
	t.Setenv(LibsEnv, dir)
	if _, err := Open(); err == nil || !strings.Contains(err.Error(), "libcudart.so.13 not found in "+dir) {
		t.Errorf("Open with %s=%s: %v, want the missing library named", LibsEnv, dir, err)
	}
	_, err = device.Open("cuda", nil)
	if err == nil || !strings.Contains(err.Error(), "libcudart.so.13 not found") {
		t.Errorf(`device.Open("cuda"): %v`, err)
	}
	var lines []string
	d, err := device.Open("auto", func(f string, a ...any) { lines = append(lines, f) })
	if err != nil || d != device.CPU() {
		t.Errorf(`device.Open("auto") = %v, %v; want the CPU`, d, err)
	}
	if len(lines) != 1 {
		t.Errorf("auto logged %d lines, want 1", len(lines))
	}
}

func TestLoaderBrokenLibrary(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "libcudart.so.13")
	if err := os.WriteFile(path, []byte("not a shared library"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := loadAll(dir, true)
	if err == nil || !strings.Contains(err.Error(), "cannot load "+path) {
		t.Fatalf("loading a file that is no library: %v, want an error naming it", err)
	}
}

func TestLoaderMissingSymbol(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "empty.c")
	if err := os.WriteFile(src, []byte("int pp_nothing(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fakecuda.Build(t, dir, src)
	err := loadAll(dir, true)
	if err == nil || !strings.Contains(err.Error(), "libcudart.so.13 lacks cudaGetDeviceCount") {
		t.Fatalf("loading a library without CUDA's symbols: %v, want the missing symbol named", err)
	}
}

func TestOpenPrecisionUnknown(t *testing.T) {
	if _, err := OpenPrecision("fp16"); err == nil || !strings.Contains(err.Error(), `precision "fp16"`) {
		t.Errorf(`OpenPrecision("fp16"): %v`, err)
	}
}
