package cuda

import (
	"strings"
	"testing"

	"github.com/novacron/perfpredict/internal/device"
)

func TestParsePrecision(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Precision
		err  string
	}{
		{"", FP32, ""},
		{"BF16", BF16, ""},
		{" tf32 ", TF32, ""},
		{"fp32", FP32, ""},
		{"fp16", "", `precision "fp16": want fp32, tf32 or bf16`},
	} {
		got, err := ParsePrecision(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParsePrecision(%q): %v, want an error containing %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParsePrecision(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// TestPrecisionNotFromEnv: the environment variable the command line reads
// does not reach the library, and an invalid option is an error even under
// "auto", which would otherwise fall back to the CPU.
func TestPrecisionNotFromEnv(t *testing.T) {
	t.Setenv("PERFPREDICT_CUDA_PRECISION", "fp16")
	if _, err := device.OpenWith("auto", device.Options{}, nil); err != nil {
		t.Errorf("auto with the default precision and PERFPREDICT_CUDA_PRECISION=fp16 set: %v", err)
	}
	for _, name := range []string{"auto", "cuda", "cpu"} {
		if _, err := device.OpenWith(name, device.Options{Precision: "fp16"}, nil); err == nil || !strings.Contains(err.Error(), `precision "fp16"`) {
			t.Errorf("OpenWith(%q, fp16): %v, want the precision's error", name, err)
		}
	}
}
