package forecast

import (
	"context"
	"fmt"

	"github.com/novacron/perfpredict/baseline"
)

// Fold is fold k of folds over series, as CrossValidate deals them: series i
// is held out in fold i mod folds, the others are trained on.
func Fold(series []baseline.Series, folds, k int) (train, held []baseline.Series) {
	for i, s := range series {
		if i%folds == k {
			held = append(held, s)
		} else {
			train = append(train, s)
		}
	}
	return train, held
}

// CrossValidate measures how the recipe opt does on series it has never
// seen: series are dealt round-robin into folds; for each fold a forecaster
// is trained on the other folds' series (their training and validation
// splits, as Train reads them) and scored with the baselines on the
// held-out series' test split by the protocol. The report holds every
// series once, each scored by a forecaster that did not train on it.
func CrossValidate(ctx context.Context, series []baseline.Series, hs []int, folds int, opt Options, eval EvalOptions) (*Report, error) {
	if folds < 2 || folds > len(series) {
		return nil, badInput(fmt.Errorf("forecast: cross-validation: %d folds for %d series (want 2..%d)", folds, len(series), len(series)))
	}
	logf := opt.logger()
	out := &Report{Intervals: &IntervalReport{}, Scenarios: &ScenarioReport{}}
	for k := range folds {
		train, held := Fold(series, folds, k)
		logf("fold %d of %d: training on %d series, holding out %d", k+1, folds, len(train), len(held))
		fc, err := Train(ctx, train, opt)
		if err != nil {
			return nil, fmt.Errorf("forecast: fold %d: %w", k+1, err)
		}
		rep, err := Evaluate(ctx, fc, held, hs, eval)
		fc.Close()
		if err != nil {
			return nil, fmt.Errorf("forecast: fold %d: %w", k+1, err)
		}
		out.Horizons = rep.Horizons
		out.Series = append(out.Series, rep.Series...)
		out.Forecasts = append(out.Forecasts, rep.Forecasts...)
		out.SwitchForecasts = append(out.SwitchForecasts, rep.SwitchForecasts...)
		out.Intervals.Series = append(out.Intervals.Series, rep.Intervals.Series...)
		out.Scenarios.Series = append(out.Scenarios.Series, rep.Scenarios.Series...)
	}
	out.summarise()
	return out, nil
}
