//go:build cuda && cgo

package perfpredict

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/internal/device/cuda/fakecuda"
)

// TestDeviceCUDA runs the device-path checks with Config.Device "cuda": on
// the GPU when one is usable, otherwise on the fake CUDA library of
// internal/device/cuda (kernels.cu run as host code), in child processes
// since a process loads its CUDA libraries once.
func TestDeviceCUDA(t *testing.T) {
	if os.Getenv("FAKE_CUDA") != "" {
		t.Skip("child process")
	}
	cfg := deviceTestConfig()
	cfg.Device = DeviceCUDA
	if _, err := New(cfg, 4, 2); err == nil {
		t.Log("running on the GPU")
		checkCUDA(t, 40, 3)
		return
	} else {
		t.Logf("no usable GPU (%v): running on the fake CUDA", err)
	}
	dir := t.TempDir()
	fakecuda.Build(t, dir, filepath.Join("internal", "device", "cuda", "testdata", "fakecuda.cc"))
	for _, mode := range []string{"nodevice", "ok"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestDeviceCUDAChild$", "-test.v")
			cmd.Env = append(os.Environ(), "FAKE_CUDA="+mode, "PERFPREDICT_CUDA_LIBS="+dir)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestDeviceCUDAChild") {
				t.Fatalf("child for %s failed: %v\n%s", mode, err, out)
			}
			t.Logf("%s", out)
		})
	}
}

// TestDeviceCUDAChild is TestDeviceCUDA's child on the fake CUDA.
func TestDeviceCUDAChild(t *testing.T) {
	mode := os.Getenv("FAKE_CUDA")
	if mode == "" {
		t.Skip("runs as TestDeviceCUDA's child")
	}
	switch mode {
	case "nodevice":
		cfg := deviceTestConfig()
		cfg.Device = DeviceCUDA
		_, err := New(cfg, 4, 2)
		if err == nil || !strings.Contains(err.Error(), "no CUDA-capable device is detected") {
			t.Errorf("New on cuda without a device: %v, want the driver's error", err)
		}
		var lines []string
		cfg.Device, cfg.Logf = DeviceAuto, func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }
		m, err := New(cfg, 4, 2)
		if err != nil {
			t.Fatal(err)
		}
		if m.Device() != DeviceCPU || len(lines) != 1 || !strings.Contains(lines[0], "no CUDA-capable device") {
			t.Errorf("auto without a device runs on %q and logged %q; want the CPU and one line with the reason", m.Device(), lines)
		}
	default:
		// The fake runs every CUDA thread as host code, about 2 s per
		// training step here: Train gets a few steps only.
		checkCUDA(t, 12, 2)
	}
}

// checkCUDA compares models on Config.Device "cuda" with the pure-Go path,
// training on trainN samples for the given epochs.
func checkCUDA(t *testing.T, trainN, epochs int) {
	cfg := deviceTestConfig()
	host, err := New(cfg, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Device = DeviceCUDA
	dev, err := New(cfg, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dev.Device(), "cuda:") {
		t.Errorf("Device() = %q", dev.Device())
	}
	checkDeviceModel(t, host, dev)
	if err := dev.Close(); err != nil {
		t.Error(err)
	}

	cfg = deviceTestConfig()
	cfg.Loss, cfg.Epochs = LossHuber, epochs
	host, err = New(cfg, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	dev = host.Clone()
	if err := dev.UseDevice(DeviceCUDA, nil); err != nil {
		t.Fatal(err)
	}
	checkDeviceTrain(t, host, dev, trainN, trainN/2)
	if err := dev.Close(); err != nil {
		t.Error(err)
	}
}
