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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	dev = mustClone(t, host)
	if err := dev.UseDevice(DeviceCUDA, nil); err != nil {
		t.Fatal(err)
	}
	checkDeviceTrain(t, host, dev, trainN, trainN/2)
	if err := dev.Close(); err != nil {
		t.Error(err)
	}
	checkCUDAPrecision(t)
}

// checkCUDAPrecision: Config.Precision reaches the device (whose name says
// which precision its matrix products use), a clone opens its own device
// with it, and SetPrecision moves a model to a device with another.
func checkCUDAPrecision(t *testing.T) {
	cfg := deviceTestConfig()
	cfg.Device, cfg.Precision = DeviceCUDA, PrecisionTF32
	m, err := New(cfg, 4, 2)
	require.NoError(t, err)
	defer m.Close()
	assert.Contains(t, m.Device(), "tf32 matrix products")
	x := randInput(9, 3*5*4)
	want, _, err := m.Predict(x, 3, 5)
	require.NoError(t, err)

	c := mustClone(t, m)
	defer c.Close()
	got, _, err := c.Predict(x, 3, 5)
	require.NoError(t, err)
	closeTo(t, "tf32 clone", got, want, 1e-5)
	assert.Contains(t, c.Device(), "tf32 matrix products", "the clone's device")

	require.NoError(t, m.SetPrecision(PrecisionFP32))
	assert.True(t, strings.HasPrefix(m.Device(), "cuda:") && !strings.Contains(m.Device(), "matrix products"),
		"fp32 device %q", m.Device())
	got, _, err = m.Predict(x, 3, 5)
	require.NoError(t, err)
	closeTo(t, "fp32 after tf32", got, want, 1e-2)
	assert.ErrorContains(t, m.SetPrecision("fp16"), `precision "fp16"`)
	assert.True(t, strings.HasPrefix(m.Device(), "cuda:"), "after a failed SetPrecision the model runs on %q", m.Device())
}
