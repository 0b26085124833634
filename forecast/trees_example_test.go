package forecast_test

import (
	"context"
	"fmt"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// Trees join a forecaster's networks at training (Options.Trees) or
// afterwards (AddTrees); each horizon's weight between them is chosen on
// the validation split, and the artifact serves the combination.
func ExampleAddTrees() {
	ctx := context.Background()
	opts := forecast.DefaultOptions()
	opts.Horizon, opts.Epochs, opts.Ensemble, opts.SwitchTrees = 12, 1, 1, nil // small, for the example
	series := []baseline.Series{cpuSeries("web-1", 1200, 0), cpuSeries("web-2", 1200, 1)}
	fc, err := forecast.Train(ctx, series, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	opts.Trees = forecast.DefaultTreeOptions(opts.Horizon)
	opts.Trees.Params.Rounds = 50
	both, err := forecast.AddTrees(ctx, fc, series, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	ti := both.Info().Trees
	fmt.Println("tree models at horizons", ti.Horizons, "weights", len(ti.Weights))
	f, err := both.Forecast(ctx, cpuSeries("web-3", 500, 2).Values)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("forecasts", len(f.Points), "steps")
	// Output:
	// tree models at horizons [1 2 3 4 6 9 12] weights 12
	// forecasts 12 steps
}
