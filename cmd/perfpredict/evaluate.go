package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

func init() {
	register(&command{name: "evaluate", summary: "score a saved model and the baselines on data (the train command's table)", run: runEvaluate})
}

func runEvaluate(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("evaluate", env)
	modelPath := fs.String("model", "", "checkpoint written by perfpredict train (`M.safetensors`; the other networks of its ensemble, M.2.safetensors, ..., are loaded from beside it)")
	var data stringList
	fs.Var(&data, "data", "CSV `file` with a timestamp column and the target column (repeatable)")
	target := fs.String("target", "", "target column (default: \"value\", or the only column besides the timestamp)")
	horizon := fs.String("horizon", "", "horizons in steps, comma-separated (default: 1 and 12, those the model covers)")
	plots := fs.String("plots", "", "write PNG figures of the forecasts vs actual to `dir`")
	asJSON := fs.Bool("json", false, "print one JSON object {\"series\": [...], \"summary\": {...}}")
	device := newDeviceFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" {
		return usagef("--model is required")
	}
	if len(data) == 0 {
		return usagef("--data is required")
	}
	ms, err := loadEnsemble(*modelPath)
	if err != nil {
		return usageErr(err)
	}
	if err := device.use(env, ms...); err != nil {
		return err
	}
	m := ms[0]
	if len(ms) > 1 {
		fmt.Fprintf(env.stderr, "model: the average of %d networks (%s and %s beside it)\n", len(ms), filepath.Base(*modelPath), strings.Join(memberNames(*modelPath, len(ms)), ", "))
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
	return printEvaluation(ctx, env, series, hs, ensembleModel(ms, nil), *plots, *asJSON)
}

// memberNames are the file names of networks 2..n of the ensemble saved at path.
func memberNames(path string, n int) []string {
	var out []string
	for i := 1; i < n; i++ {
		out = append(out, filepath.Base(memberPath(path, i)))
	}
	return out
}
