package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/internal/safetensors"
)

func runPredictCmd(args ...string) (code int, stdout, stderr string) {
	return runCmd(append([]string{"predict"}, args...)...)
}

// TestPredictReferenceCheckpoint runs the DESIGN.md contract on a checkpoint
// and input written by the PyTorch reference: case.safetensors holds x.
func TestPredictReferenceCheckpoint(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "fixtures", "model_l2k3")
	casePath := filepath.Join(dir, "case.safetensors")
	code, stdout, stderr := runPredictCmd("--model", filepath.Join(dir, "model.safetensors"), "--tensor", casePath, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Predictions [][]float64 `json:"predictions"`
		Attention   [][]float64 `json:"attention"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("output is not the JSON contract: %v\n%s", err, stdout)
	}
	c, err := safetensors.ReadFile(casePath)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, rows [][]float64, name string) {
		want, shape, err := c.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != shape[0] {
			t.Fatalf("%s: %d rows, want %d", what, len(rows), shape[0])
		}
		for i, r := range rows {
			if len(r) != shape[1] {
				t.Fatalf("%s row %d: %d values, want %d", what, i, len(r), shape[1])
			}
			for j, v := range r {
				if w := float64(want[i*shape[1]+j]); math.Abs(v-w) > 1e-5*math.Max(1, math.Abs(w)) {
					t.Errorf("%s[%d][%d] = %v, want %v", what, i, j, v, w)
				}
			}
		}
	}
	check("predictions", got.Predictions, "eval.y")
	check("attention", got.Attention, "eval.attention")
}

func TestPredictErrors(t *testing.T) {
	fix := filepath.Join("..", "..", "testdata", "fixtures")
	model := filepath.Join(fix, "model_l1", "model.safetensors")
	other := filepath.Join(fix, "model_l2k3", "case.safetensors") // x has 5 features, the model 3
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no model", []string{"--tensor", other}, "--model"},
		{"no input", []string{"--model", model}, "--tensor"},
		{"missing model", []string{"--model", "nope.safetensors", "--tensor", other}, "nope.safetensors"},
		{"not a model", []string{"--model", other, "--tensor", other}, "case.safetensors"},
		{"no x", []string{"--model", model, "--tensor", model}, `"x"`},
		{"wrong width", []string{"--model", model, "--tensor", other}, "5 features per step, the model expects 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runPredictCmd(c.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("stderr %q: want one line naming %q", stderr, c.want)
			}
		})
	}
}
