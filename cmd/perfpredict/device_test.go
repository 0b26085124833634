package main

import (
	"path/filepath"
	"strings"
	"testing"

	perfpredict "github.com/novacron/perfpredict"
)

// TestDeviceFlagUnknown: an unknown --device is bad usage (exit 2, one line)
// in every command that runs a model, before a model is trained or moved.
func TestDeviceFlagUnknown(t *testing.T) {
	fix := filepath.Join("..", "..", "testdata", "fixtures", "model_l1")
	model := filepath.Join(fix, "model.safetensors")
	data := writeSeries(t, t.TempDir(), "dev", 700)
	for _, c := range [][]string{
		{"train", "--data", data},
		{"evaluate", "--model", model, "--data", data},
		{"predict", "--model", model, "--tensor", filepath.Join(fix, "case.safetensors")},
		{"degradation", "--model", model, "--data", data},
		{"explain", "--model", model, "--data", data},
	} {
		code, _, stderr := runCmd(append(c, "--device", "tpu")...)
		if code != 2 || !strings.Contains(stderr, `--device: "tpu" is not cpu, cuda or auto`) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q", c[0], code, stderr)
		}
	}
	if code, _, stderr := runCmd("train", "--device", "cuda"); code != 2 || !strings.Contains(stderr, "--dropout 0") {
		t.Errorf("train --device cuda with dropout: exit %d, stderr %q", code, stderr)
	}
}

// probeDevice moves the reference fixture model to name: a nil error means
// this machine runs name on a GPU.
func probeDevice(t *testing.T, name string) (onGPU bool, err error) {
	t.Helper()
	m, err := perfpredict.Load(filepath.Join("..", "..", "testdata", "fixtures", "model_l1", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err = m.UseDevice(name, func(string, ...any) {})
	return err == nil && m.Device() != perfpredict.DeviceCPU, err
}

// fallbackLines counts auto's lines saying it runs on the CPU.
func fallbackLines(stderr string) int {
	n := 0
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "auto") && strings.Contains(l, "CPU") {
			n++
		}
	}
	return n
}

// TestDeviceAutoFallsBack: without a usable GPU, --device auto runs every
// command on the CPU with one line on stderr (one for a whole ensemble),
// and forecasts exactly as --device cpu.
func TestDeviceAutoFallsBack(t *testing.T) {
	if gpu, _ := probeDevice(t, perfpredict.DeviceAuto); gpu {
		t.Skip("a GPU is usable here: auto does not fall back")
	}
	fix := filepath.Join("..", "..", "testdata", "fixtures", "model_l1")
	args := []string{"predict", "--json", "--model", filepath.Join(fix, "model.safetensors"), "--tensor", filepath.Join(fix, "case.safetensors")}
	code, cpuOut, stderr := runCmd(args...)
	if code != 0 || stderr != "" {
		t.Fatalf("predict --device cpu: exit %d: %s", code, stderr)
	}
	code, autoOut, stderr := runCmd(append(args, "--device", "auto")...)
	if code != 0 || fallbackLines(stderr) != 1 || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("predict --device auto: exit %d, stderr %q", code, stderr)
	}
	if autoOut != cpuOut {
		t.Errorf("auto forecasts differ from the CPU's:\n%s\n%s", autoOut, cpuOut)
	}

	dir := t.TempDir()
	data := writeSeries(t, dir, "dev", 700)
	out := filepath.Join(dir, "models")
	ckpt := filepath.Join(out, checkpointName)
	code, _, stderr = runCmd("train", "--json", "--data", data, "--horizon", "1,3", "--epochs", "1",
		"--hidden", "8", "--window", "24", "--ensemble", "2", "--out", out, "--device", "auto")
	if code != 0 || fallbackLines(stderr) != 1 {
		t.Fatalf("train --device auto (2 networks): exit %d, %d fallback lines:\n%s", code, fallbackLines(stderr), stderr)
	}
	for _, c := range [][]string{
		{"evaluate", "--json", "--model", ckpt, "--data", data, "--horizon", "1,3"},
		{"predict", "--json", "--model", ckpt, "--data", data},
		{"degradation", "--json", "--model", ckpt, "--data", data, "--horizon", "3"},
		{"explain", "--json", "--model", ckpt, "--data", data, "--repeats", "1"},
	} {
		code, cpuOut, _ := runCmd(c...)
		code2, autoOut, stderr := runCmd(append(c, "--device", "auto")...)
		if code != 0 || code2 != 0 || fallbackLines(stderr) != 1 {
			t.Errorf("%s --device auto: exit %d (cpu %d), %d fallback lines:\n%s", c[0], code2, code, fallbackLines(stderr), stderr)
		}
		if autoOut != cpuOut {
			t.Errorf("%s: auto's output differs from the CPU's", c[0])
		}
	}
}

// TestDeviceCUDAUnavailable: --device cuda where no GPU is usable (or in a
// build without -tags cuda) fails with the loader's message, exit 1.
func TestDeviceCUDAUnavailable(t *testing.T) {
	gpu, probe := probeDevice(t, perfpredict.DeviceCUDA)
	if gpu || probe == nil {
		t.Skip("a GPU is usable here")
	}
	fix := filepath.Join("..", "..", "testdata", "fixtures", "model_l1")
	model := filepath.Join(fix, "model.safetensors")
	dir := t.TempDir()
	data := writeSeries(t, dir, "dev", 700)
	for _, c := range [][]string{
		{"predict", "--model", model, "--tensor", filepath.Join(fix, "case.safetensors")},
		{"evaluate", "--model", model, "--data", data},
		{"degradation", "--model", model, "--data", data},
		{"explain", "--model", model, "--data", data},
		{"train", "--data", data, "--horizon", "1", "--epochs", "1", "--hidden", "8", "--window", "24", "--ensemble", "1",
			"--out", "", "--dropout", "0"},
	} {
		code, _, stderr := runCmd(append(c, "--device", "cuda")...)
		if code != 1 || !strings.Contains(stderr, probe.Error()) || strings.Count(stderr, "\n") > 1 {
			t.Errorf("%s --device cuda: exit %d, stderr %q (want the loader's %q)", c[0], code, stderr, probe.Error())
		}
	}
}
