package cuda

import (
	"strings"
	"testing"
)

func TestPrecisionFromEnv(t *testing.T) {
	for _, c := range []struct {
		env, tf32 string
		want      Precision
		err       string
	}{
		{"", "", FP32, ""},
		{"", "1", TF32, ""},
		{"BF16", "", BF16, ""},
		{" tf32 ", "", TF32, ""},
		{"fp32", "1", FP32, ""},
		{"fp16", "", "", PrecisionEnv + `="fp16": want fp32, tf32 or bf16`},
	} {
		t.Setenv(PrecisionEnv, c.env)
		t.Setenv("PERFPREDICT_CUDA_TF32", c.tf32)
		got, err := precisionFromEnv()
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s=%q: %v, want an error containing %q", PrecisionEnv, c.env, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s=%q, TF32=%q: %q, %v; want %q", PrecisionEnv, c.env, c.tf32, got, err, c.want)
		}
	}
}
