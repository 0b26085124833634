package main

import (
	"context"
	"encoding/json"
	"fmt"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/internal/safetensors"
)

func init() {
	register(&command{name: "predict", summary: "predict with a saved model (values and attention weights)", run: runPredict})
}

// predictInput is a batch of already scaled windows x [batch, steps, F].
type predictInput struct {
	x            []float32
	batch, steps int
}

// predictOutput is the JSON contract of DESIGN.md.
type predictOutput struct {
	Predictions [][]float32 `json:"predictions"`
	Attention   [][]float32 `json:"attention"`
}

func runPredict(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("predict", env)
	modelPath := fs.String("model", "", "model checkpoint (`M.safetensors`)")
	tensorPath := fs.String("tensor", "", "input windows: a safetensors file whose tensor \"x\" is [B, T, F], already scaled")
	asJSON := fs.Bool("json", false, "print one JSON object {\"predictions\": [[K]...], \"attention\": [[T]...]}")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" {
		return usagef("--model is required")
	}
	if *tensorPath == "" {
		return usagef("an input is required: --tensor X.safetensors")
	}
	m, err := perfpredict.Load(*modelPath)
	if err != nil {
		return usageErr(err)
	}
	in, err := readTensorInput(*tensorPath)
	if err != nil {
		return err
	}
	pred, att, err := m.Predict(in.x, in.batch, in.steps)
	if err != nil {
		return usagef("%s: tensor \"x\": %v", *tensorPath, err)
	}
	out := predictOutput{Predictions: predictRows(pred, m.Outputs()), Attention: predictRows(att, in.steps)}
	if *asJSON {
		return json.NewEncoder(env.stdout).Encode(out)
	}
	for i := range out.Predictions {
		fmt.Fprintf(env.stdout, "%d\t%v\n", i, out.Predictions[i])
	}
	return nil
}

// readTensorInput reads tensor "x" [B, T, F] (F32) from a safetensors file.
func readTensorInput(path string) (predictInput, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return predictInput{}, usageErr(err)
	}
	x, shape, err := f.Float32("x")
	if err != nil {
		return predictInput{}, usagef("%s: %v", path, err)
	}
	if len(shape) != 3 || shape[0] <= 0 || shape[1] <= 0 || shape[2] <= 0 {
		return predictInput{}, usagef("%s: tensor \"x\" has shape %v, want [batch, steps, features]", path, shape)
	}
	return predictInput{x: x, batch: shape[0], steps: shape[1]}, nil
}

// predictRows splits a row-major [n, width] slice into rows.
func predictRows(v []float32, width int) [][]float32 {
	out := make([][]float32, 0, len(v)/width)
	for i := 0; i+width <= len(v); i += width {
		out = append(out, v[i:i+width])
	}
	return out
}
