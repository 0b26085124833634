package main

import (
	"path/filepath"
	"strings"
	"testing"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/asm"
	"github.com/novacron/perfpredict/forecast"
)

// TestDeviceFlagUnknown: an unknown --device is bad usage (exit 2, one line)
// in every command that runs a forecaster, before anything is opened.
func TestDeviceFlagUnknown(t *testing.T) {
	model := filepath.Join(t.TempDir(), "none.zip") // never opened
	data := writeSeries(t, t.TempDir(), "dev", 700)
	for _, c := range [][]string{
		{"train", "--data", data},
		{"evaluate", "--model", model, "--data", data},
		{"predict", "--model", model, "--data", data},
		{"degradation", "--model", model, "--data", data},
		{"explain", "--model", model, "--data", data},
		{"monitor", "--model", model, "--data", data},
	} {
		code, _, stderr := runCmd(append(c, "--device", "tpu")...)
		if code != 2 || !strings.Contains(stderr, `--device: "tpu" is not cpu, cuda or auto`) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q", c[0], code, stderr)
		}
	}
}

// probeDevice moves a forecaster to name: onGPU when this machine runs
// name on a GPU, and the loader's error when it cannot.
func probeDevice(t *testing.T, model, name string) (onGPU bool, err error) {
	t.Helper()
	fc, err := forecast.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	err = fc.UseDevice(name, func(string, ...any) {})
	return err == nil && fc.Device() != perfpredict.DeviceCPU, err
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
// serving command on the CPU with one line on stderr (one for the whole
// ensemble), and answers exactly as --device cpu.
func TestDeviceAutoFallsBack(t *testing.T) {
	model := servingArtifact(t)
	if gpu, _ := probeDevice(t, model, perfpredict.DeviceAuto); gpu {
		t.Skip("a GPU is usable here: auto does not fall back")
	}
	data := writeSeries(t, t.TempDir(), "dev", 500)
	for _, c := range [][]string{
		{"predict", "--json", "--model", model, "--data", data},
		{"degradation", "--json", "--model", model, "--data", data},
		{"explain", "--json", "--model", model, "--data", data, "--repeats", "1"},
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
	model := servingArtifact(t)
	gpu, probe := probeDevice(t, model, perfpredict.DeviceCUDA)
	if gpu || probe == nil {
		t.Skip("a GPU is usable here")
	}
	data := writeSeries(t, t.TempDir(), "dev", 500)
	for _, c := range [][]string{
		{"predict", "--model", model, "--data", data},
		{"degradation", "--model", model, "--data", data},
		{"explain", "--model", model, "--data", data},
		{"monitor", "--model", model, "--data", data},
	} {
		code, _, stderr := runCmd(append(c, "--device", "cuda")...)
		if code != 1 || !strings.Contains(stderr, probe.Error()) || strings.Count(stderr, "\n") > 1 {
			t.Errorf("%s --device cuda: exit %d, stderr %q (want the loader's %q)", c[0], code, stderr, probe.Error())
		}
	}
}

// TestDevicePrecisionEnv: the command maps PERFPREDICT_CUDA_PRECISION onto
// the networks' Config.Precision: an unknown value is bad usage (exit 2,
// naming the variable) on a GPU or under auto, and a known one runs; on the
// CPU the precision does not apply.
func TestDevicePrecisionEnv(t *testing.T) {
	model := servingArtifact(t)
	data := writeSeries(t, t.TempDir(), "dev", 500)
	predict := []string{"predict", "--json", "--model", model, "--data", data}
	t.Setenv(precisionEnv, "fp16")
	code, _, stderr := runCmd(append(predict, "--device", "auto")...)
	if code != 2 || !strings.Contains(stderr, precisionEnv) || !strings.Contains(stderr, `precision "fp16"`) {
		t.Errorf("%s=fp16 --device auto: exit %d, stderr %q", precisionEnv, code, stderr)
	}
	if code, _, stderr := runCmd(predict...); code != 0 {
		t.Errorf("%s=fp16 on the CPU: exit %d, stderr %q", precisionEnv, code, stderr)
	}
	t.Setenv(precisionEnv, "TF32")
	if code, _, stderr := runCmd(append(predict, "--device", "auto")...); code != 0 {
		t.Errorf("%s=TF32 --device auto: exit %d, stderr %q", precisionEnv, code, stderr)
	}
}

// TestPrecisionEnv: PERFPREDICT_PRECISION sets the networks' precision on
// the CPU too: bf16 runs (or, on a CPU without AVX512_BF16, is bad usage
// naming the variable and the instructions), and an unknown value is bad
// usage naming the variable.
func TestPrecisionEnv(t *testing.T) {
	model := servingArtifact(t)
	data := writeSeries(t, t.TempDir(), "prec", 500)
	predict := []string{"predict", "--json", "--model", model, "--data", data}
	t.Setenv(anyPrecisionEnv, "fp16")
	if code, _, stderr := runCmd(predict...); code != 2 || !strings.Contains(stderr, anyPrecisionEnv) || !strings.Contains(stderr, `precision "fp16"`) {
		t.Errorf("%s=fp16 on the CPU: exit %d, stderr %q", anyPrecisionEnv, code, stderr)
	}
	t.Setenv(anyPrecisionEnv, "bf16")
	code, _, stderr := runCmd(predict...)
	if miss := asm.BF16Missing(); miss != "" {
		if code != 2 || !strings.Contains(stderr, anyPrecisionEnv) || !strings.Contains(stderr, "AVX512_BF16") {
			t.Errorf("%s=bf16 without AVX512_BF16: exit %d, stderr %q", anyPrecisionEnv, code, stderr)
		}
		return
	}
	if code != 0 {
		t.Errorf("%s=bf16 on the CPU: exit %d, stderr %q", anyPrecisionEnv, code, stderr)
	}
}

// A GPU's precision must not reach networks that train on the CPU, where
// bf16 would switch the CPU's own bf16 path on (or fail without
// AVX512_BF16); PERFPREDICT_PRECISION applies everywhere.
func TestTrainingPrecision(t *testing.T) {
	for _, c := range []struct{ cuda, any, device, want string }{
		{"bf16", "", "cpu", ""},
		{"bf16", "", "", ""},
		{"bf16", "", "cuda", "bf16"},
		{"bf16", "", "auto", "bf16"},
		{"bf16", "int8", "cpu", "int8"},
		{"", "fp32", "cuda", "fp32"},
	} {
		t.Setenv(precisionEnv, c.cuda)
		t.Setenv(anyPrecisionEnv, c.any)
		if got := trainingPrecision(c.device); got != c.want {
			t.Errorf("%s=%q %s=%q on %q: precision %q, want %q", precisionEnv, c.cuda, anyPrecisionEnv, c.any, c.device, got, c.want)
		}
	}
}
