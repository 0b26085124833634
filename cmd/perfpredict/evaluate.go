package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/novacron/perfpredict/forecast"
)

func init() {
	register(&command{name: "evaluate", summary: "score a forecaster artifact and the baselines on data (the train command's table)", run: runEvaluate})
}

func runEvaluate(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("evaluate", env)
	modelPath := fs.String("model", "", "forecaster artifact written by perfpredict train (`forecaster.zip`)")
	data := addDataFlags(fs, "CSV `file` with a timestamp column and metric columns (repeatable)", true)
	target := fs.String("target", "", "metric columns, comma-separated (default: every column besides the timestamp)")
	horizon := fs.String("horizon", "", "horizons in steps, comma-separated (default: those of 1, 12 and 30 the forecaster covers)")
	plots := fs.String("plots", "", "write PNG figures of the forecasts with their p10-p90 band against the actual values to `dir`")
	forecastsPath := fs.String("forecasts", "", "write every scored forecast of the model and the switch to this CSV `file` (series,origin,horizon,forecast,actual,method)")
	asJSON := fs.Bool("json", false, "print one JSON object {\"series\": [...], \"summary\": {...}}")
	device := newDeviceFlag(fs)
	labelsPath := addLabelsFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" {
		return usagef("--model is required")
	}
	if !data.given() {
		return usagef("--data or --prometheus is required")
	}
	fc, err := openForecaster(env, *modelPath, device)
	if err != nil {
		return err
	}
	defer fc.Close()
	K := fc.Horizon()
	var hs []int
	if *horizon != "" {
		if hs, err = parseHorizons(*horizon); err != nil {
			return usageErr(err)
		}
		if hs[len(hs)-1] > K {
			return usagef("--horizon %d: %s forecasts at most %d steps ahead", hs[len(hs)-1], *modelPath, K)
		}
	} else {
		for _, h := range []int{1, 12, 30} {
			if h <= K {
				hs = append(hs, h)
			}
		}
		if hs[len(hs)-1] != K && K < 30 {
			hs = append(hs, K)
		}
	}
	series, err := loadSeries(ctx, data, *target, hs)
	if err != nil {
		return err
	}
	labels, err := data.labels(*labelsPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "forecaster: %d network(s), h = 1..%d, forecasts from the last %d observations\n", fc.Members(), K, fc.Needs())
	err = evaluateAndPrint(ctx, env, fc, series, hs, labels, *plots, *forecastsPath, *asJSON)
	if errors.Is(err, forecast.ErrBadInput) {
		return usageErr(err)
	}
	return err
}
