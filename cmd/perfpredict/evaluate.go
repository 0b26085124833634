package main

import (
	"context"
	"path/filepath"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
)

func init() {
	register(&command{name: "evaluate", summary: "score a saved model and the baselines on data (the train command's table)", run: runEvaluate})
}

func runEvaluate(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("evaluate", env)
	modelPath := fs.String("model", "", "checkpoint written by perfpredict train (`M.safetensors`)")
	var data stringList
	fs.Var(&data, "data", "CSV `file` with a timestamp column and the target column (repeatable)")
	target := fs.String("target", "", "target column (default: \"value\", or the only column besides the timestamp)")
	horizon := fs.String("horizon", "", "horizons in steps, comma-separated (default: 1 and 12, those the model covers)")
	plots := fs.String("plots", "", "write PNG figures of the forecasts vs actual to `dir`")
	asJSON := fs.Bool("json", false, "print one JSON object {\"series\": [...], \"summary\": {...}}")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" {
		return usagef("--model is required")
	}
	if len(data) == 0 {
		return usagef("--data is required")
	}
	m, err := perfpredict.Load(*modelPath)
	if err != nil {
		return usageErr(err)
	}
	K := m.Outputs()
	if _, err := checkModel(m); err != nil {
		return usagef("%s: %v", *modelPath, err)
	}
	var hs []int
	if *horizon != "" {
		if hs, err = parseHorizons(*horizon); err != nil {
			return usageErr(err)
		}
		if hs[len(hs)-1] > K {
			return usagef("--horizon %d: %s forecasts at most %d steps ahead", hs[len(hs)-1], filepath.Base(*modelPath), K)
		}
	} else {
		for _, h := range []int{1, 12} {
			if h <= K {
				hs = append(hs, h)
			}
		}
		if hs[len(hs)-1] != K && K < 12 {
			hs = append(hs, K)
		}
	}
	series, err := loadSeries(data, *target, hs, m.Config().Steps)
	if err != nil {
		return err
	}
	model := func(ctx context.Context, s baseline.Series, hs []int) (*modelOutput, error) {
		d, err := prepareSeries(s)
		if err != nil {
			return nil, err
		}
		return networkForecasts(m, d, hs)
	}
	rep, err := evaluateAll(ctx, env.stderr, series, hs, model, *plots)
	if err != nil {
		return err
	}
	if *asJSON {
		return rep.writeJSON(env.stdout)
	}
	rep.writeTable(env.stdout)
	return nil
}
