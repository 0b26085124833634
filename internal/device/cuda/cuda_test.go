//go:build cuda && cgo

package cuda

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/internal/device"
	"github.com/novacron/perfpredict/internal/device/devicetest"
)

// TestConformance runs the device conformance suite on the GPU, or skips
// saying why there is none.
func TestConformance(t *testing.T) {
	if os.Getenv("FAKE_CUDA") != "" {
		t.Skip("running under the fake CUDA")
	}
	d, err := Open()
	if err != nil {
		t.Skipf("no usable CUDA device, skipping the GPU conformance suite: %v", err)
	}
	defer func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	}()
	devicetest.Run(t, d)
}

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

// buildFake compiles source (C, or C++20 for testdata/fakecuda.cc) into dir
// under every soname the loader looks for.
func buildFake(t *testing.T, dir string, source string) {
	t.Helper()
	compiler, args := "gcc", []string{"-shared", "-fPIC"}
	if strings.HasSuffix(source, ".cc") {
		compiler, args = "g++", []string{"-std=c++20", "-O1", "-shared", "-fPIC", "-pthread"}
	}
	cc, err := exec.LookPath(compiler)
	if err != nil {
		t.Skipf("%s not found: cannot build the fake CUDA libraries", compiler)
	}
	so := filepath.Join(dir, "fake.so")
	if out, err := exec.Command(cc, append(args, "-o", so, source)...).CombinedOutput(); err != nil {
		t.Fatalf("building the fake CUDA: %v\n%s", err, out)
	}
	// Links, not copies: the dynamic loader then loads the file once, so the
	// "libraries" share the fake's state (capture, the launch geometry).
	for _, name := range []string{"libcudart.so.13", "libcublas.so.13", "libnvrtc.so.13", "libcuda.so.1"} {
		if err := os.Symlink(so, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoaderMissingSymbol(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "empty.c")
	if err := os.WriteFile(src, []byte("int pp_nothing(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	buildFake(t, dir, src)
	err := loadAll(dir, true)
	if err == nil || !strings.Contains(err.Error(), "libcudart.so.13 lacks cudaGetDeviceCount") {
		t.Fatalf("loading a library without CUDA's symbols: %v, want the missing symbol named", err)
	}
}

// TestFakeCUDA runs Open and the device through the real loader and C
// wrappers against a fake CUDA (testdata/fakecuda.cc, which runs kernels.cu
// as host code), one child process per scenario, since a process loads its
// CUDA libraries once. The "conformance" scenario runs the whole
// conformance suite on the CUDA backend that way.
func TestFakeCUDA(t *testing.T) {
	if os.Getenv("FAKE_CUDA") != "" {
		t.Skip("child process")
	}
	src, err := filepath.Abs(filepath.Join("testdata", "fakecuda.cc"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	buildFake(t, dir, src)
	for _, mode := range []string{"nodevice", "olddriver", "badkernel", "ok", "conformance"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFakeCUDAChild$", "-test.v")
			cmd.Env = append(os.Environ(), "FAKE_CUDA="+mode, LibsEnv+"="+dir)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestFakeCUDAChild") {
				t.Fatalf("child for %s failed: %v\n%s", mode, err, out)
			}
		})
	}
}

// TestFakeCUDAChild is TestFakeCUDA's child: it checks one scenario.
func TestFakeCUDAChild(t *testing.T) {
	mode := os.Getenv("FAKE_CUDA")
	if mode == "" {
		t.Skip("runs as TestFakeCUDA's child")
	}
	d, err := Open()
	t.Logf("Open: %v", err)
	expectErr := func(parts ...string) {
		t.Helper()
		if err == nil {
			t.Fatalf("Open succeeded, want an error containing %q", parts)
		}
		for _, p := range parts {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("Open: %v; want it to contain %q", err, p)
			}
		}
	}
	switch mode {
	case "nodevice":
		expectErr("no CUDA-capable device is detected", "driver error 100")
		var lines []string
		dev, err := device.Open("auto", func(f string, a ...any) { lines = append(lines, f) })
		if err != nil || dev != device.CPU() || len(lines) != 1 {
			t.Errorf(`device.Open("auto") = %v, %v with %d log lines; want the CPU and one line`, dev, err, len(lines))
		}
	case "olddriver":
		expectErr("driver supports CUDA 12.2 but the libraries are CUDA 13.0")
	case "badkernel":
		expectErr("NVRTC_ERROR_COMPILATION", "fake compile failure", "compute_90")
	case "ok":
		if err != nil {
			t.Fatal(err)
		}
		testFakeDevice(t, d)
	case "conformance":
		if err != nil {
			t.Fatal(err)
		}
		devicetest.Run(t, d)
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	}
}

func testFakeDevice(t *testing.T, d device.Device) {
	if !strings.Contains(d.Name(), "Fake GPU (sm_90") {
		t.Errorf("Name() = %q", d.Name())
	}
	q := d.Queue(0)
	b, err := d.Alloc(100)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 100)
	got[0] = 7
	if err := q.Download(got, b); err != nil || got[0] != 0 {
		t.Fatalf("a new buffer reads %v (err %v), want zeros", got[0], err)
	}
	v := make([]float32, 10)
	for i := range v {
		v[i] = float32(i + 1)
	}
	if err := q.Upload(b.Slice(50, 10), v); err != nil {
		t.Fatal(err)
	}
	if err := q.Download(got, b); err != nil {
		t.Fatal(err)
	}
	if got[49] != 0 || got[50] != 1 || got[59] != 10 || got[60] != 0 {
		t.Errorf("upload into Slice(50, 10) landed wrong: %v", got[45:65])
	}
	_, err = d.Alloc(1 << 29) // 2 GiB: over the fake's 1 GiB
	t.Logf("Alloc(2 GiB): %v", err)
	var ce *Error
	if err == nil || !errors.As(err, &ce) || !ce.OutOfMemory() || !strings.Contains(err.Error(), "MiB free of 2048 MiB") {
		t.Errorf("Alloc beyond the memory: %v, want out of memory with the free memory", err)
	}
	if err := d.Free(b.Slice(0, 5)); err == nil {
		t.Error("Free of a Slice succeeded")
	}
	// Queued work, capture and a failing launch.
	q.Fill2D(10, 10, b, 10, 1)
	if err := d.BeginCapture(q); err != nil {
		t.Fatal(err)
	}
	if err := q.Upload(b, v); !errors.Is(err, device.ErrCapturing) {
		t.Errorf("Upload while capturing: %v", err)
	}
	q.Gemm(device.GemmArgs{M: 2, N: 2, K: 2, Alpha: 1, A: b, LDA: 2, B: b, LDB: 2, C: b.Slice(8, 4), LDC: 2})
	g, err := d.EndCapture(q)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Launch(q); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Fatalf("Sync after good work: %v", err)
	}
	t.Setenv("FAKE_CUDA_LAUNCH_FAIL", "1")
	q1 := d.Queue(1)
	q1.Fill2D(1, 10, b, 10, 2)
	err = q1.Sync()
	t.Logf("Sync after a failed launch: %v", err)
	if err == nil || !strings.Contains(err.Error(), "an illegal memory access was encountered") ||
		!strings.Contains(err.Error(), "pp_fill2d") {
		t.Errorf("Sync after a failed launch: %v, want the driver's error naming the kernel", err)
	}
	if err := d.Free(b); err != nil {
		t.Fatal(err)
	}
	if err := d.Free(b); err == nil {
		t.Error("a second Free succeeded")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}
