//go:build cuda && cgo

package cuda_test

// These tests use the conformance suite, which imports the root package, which
// imports this package in a cuda build: they live in the external test
// package to avoid an import cycle.

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novacron/perfpredict/internal/device"
	"github.com/novacron/perfpredict/internal/device/cuda"
	"github.com/novacron/perfpredict/internal/device/cuda/fakecuda"
	"github.com/novacron/perfpredict/internal/device/devicetest"
)

// TestConformance runs the device conformance suite on the GPU, or skips
// saying why there is none.
func TestConformance(t *testing.T) {
	if os.Getenv("FAKE_CUDA") != "" {
		t.Skip("running under the fake CUDA")
	}
	d, err := cuda.Open()
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
	fakecuda.Build(t, dir, src)
	for _, mode := range []string{"nodevice", "olddriver", "badkernel", "ok", "conformance", "precision"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFakeCUDAChild$", "-test.v")
			cmd.Env = append(os.Environ(), "FAKE_CUDA="+mode, cuda.LibsEnv+"="+dir)
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
	d, err := cuda.Open()
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
		testFakeCaptures(t, d)
		testFakeDevice(t, d)
	case "precision":
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		checkPrecisions(t, 3, 12)
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

// testFakeCaptures checks that nothing outside a capture breaks it: an
// Alloc and a Free while it records, another Device closed meanwhile (as the
// garbage collector's cleanup of a dropped model does), and that a failure
// enqueued while capturing is the capture's error and leaves the queue
// usable. The fake breaks a capture on the same calls a GPU does.
func testFakeCaptures(t *testing.T, d device.Device) {
	q := d.Queue(0)
	old, err := d.Alloc(8)
	if err != nil {
		t.Fatal(err)
	}
	other, err := cuda.Open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Alloc(16); err != nil {
		t.Fatal(err)
	}
	if err := d.BeginCapture(q); err != nil {
		t.Fatal(err)
	}
	fresh, err := d.Alloc(4) // zeroed on a stream of its own, not q
	if err != nil {
		t.Fatalf("Alloc while capturing: %v", err)
	}
	if err := d.Free(old); err != nil {
		t.Fatalf("Free while capturing: %v", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- other.Close() }()
	time.Sleep(20 * time.Millisecond) // let Close reach its wait
	select {
	case err := <-closed:
		t.Errorf("another Device closed while a capture was in progress (err %v)", err)
	default:
	}
	q.Fill2D(1, 4, fresh, 4, 5)
	g, err := d.EndCapture(q)
	if err != nil {
		t.Fatalf("EndCapture after an Alloc, a Free and a Close meanwhile: %v", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close of the other Device: %v", err)
	}
	if err := g.Launch(q); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 4)
	if err := q.Download(got, fresh); err != nil || got[3] != 5 {
		t.Errorf("the replayed Fill2D left %v (err %v), want 5s", got, err)
	}
	if err := g.Close(); err != nil {
		t.Error(err)
	}

	// A launch that fails while capturing fails the capture, not the queue.
	if err := d.BeginCapture(q); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_CUDA_LAUNCH_FAIL", "1")
	q.Fill2D(1, 4, fresh, 4, 6)
	os.Unsetenv("FAKE_CUDA_LAUNCH_FAIL")
	g, err = d.EndCapture(q)
	if g != nil || err == nil || !strings.Contains(err.Error(), "pp_fill2d") || !strings.Contains(err.Error(), "queue 0 while capturing") {
		t.Errorf("EndCapture after a failed launch: %v, %v; want no graph and the launch's error", g, err)
	}
	if err := q.Sync(); err != nil {
		t.Errorf("Sync after a failed capture: %v, want the queue usable", err)
	}
	if err := d.Free(fresh); err != nil {
		t.Error(err)
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
	var ce *cuda.Error
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
