package serve

import (
	"context"
	"slices"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// ForecastAnswer is a forecast of every metric of a history from its last
// row, shaped for JSON: `perfpredict predict --json` prints it and the
// HTTP service (serve/httpapi) answers it. Per-horizon fields hold one
// row per metric: Predictions[m][h-1] is metric m's forecast h steps
// after Origin. A model answer depends on the last Needs rows only, so
// the same rows give the same object; a switch answer (ServiceOptions.
// Switch, a Follower) also depends on the rows the service saw before.
type ForecastAnswer struct {
	Predictions [][]float64 `json:"predictions"`
	P10         [][]float64 `json:"p10"`
	P90         [][]float64 `json:"p90"`
	// Attention[m] is the networks' mean weight over the window's steps,
	// oldest first (empty for a fallback answer).
	Attention [][]float64 `json:"attention"`
	// Needs is the number of most recent rows the forecast depends on.
	Needs   int         `json:"needs"`
	Horizon int         `json:"horizon"`
	Metrics []string    `json:"metrics"`
	Origin  time.Time   `json:"origin"`
	Times   []time.Time `json:"times"`
	// Source is "fallback" when any metric fell back; Method and Reason
	// are then the first such metric's, and otherwise Method is "switch"
	// when any metric was answered by the switch, else "model".
	Source Source `json:"source"`
	Method string `json:"method"`
	// Methods[m] answered metric m: "model", "switch" or the fallback's
	// name.
	Methods []string `json:"methods"`
	Reason  Reason   `json:"reason,omitempty"`
	Version string   `json:"version"`
}

// NewForecastAnswer shapes ps (ps[m] answers metrics[m], all from origin,
// from a forecaster reading the last needs rows) with one step of step
// between forecast times.
func NewForecastAnswer(ps []Prediction, metrics []string, origin time.Time, step time.Duration, needs, horizon int, version string) *ForecastAnswer {
	out := &ForecastAnswer{Needs: needs, Horizon: horizon, Metrics: metrics, Origin: origin,
		Source: SourceModel, Method: "model", Version: version}
	for h := 1; h <= horizon; h++ {
		out.Times = append(out.Times, origin.Add(time.Duration(h)*step))
	}
	for _, p := range ps {
		var v, lo, hi []float64
		for _, pt := range p.Points {
			v, lo, hi = append(v, pt.Value), append(lo, pt.P10), append(hi, pt.P90)
		}
		out.Predictions, out.P10, out.P90 = append(out.Predictions, v), append(out.P10, lo), append(out.P90, hi)
		out.Attention = append(out.Attention, append([]float64{}, p.Attention...))
		out.Methods = append(out.Methods, p.Method)
		if p.Source != SourceModel && out.Source == SourceModel {
			out.Source, out.Method, out.Reason = p.Source, p.Method, p.Reason
		}
	}
	if out.Source == SourceModel && slices.Contains(out.Methods, forecast.SwitchMethod) {
		out.Method = forecast.SwitchMethod
	}
	return out
}

// ForecastAnswer forecasts every metric from the last row of recent (as
// Forecast does) and shapes the answer.
func (s *Service) ForecastAnswer(ctx context.Context, recent []baseline.Series) (*ForecastAnswer, error) {
	ps, err := s.Forecast(ctx, recent)
	if err != nil {
		return nil, err
	}
	return NewForecastAnswer(ps, s.Metrics, recent[0].Times[rows(recent)-1], s.Cadence, s.Needs(), s.Horizon(), s.Predictor.Version()), nil
}

// Cadence is the median spacing of times (sorted, oldest first): the step
// a forecast's times advance by, as NewService measures it.
func Cadence(times []time.Time) time.Duration { return medianStep(times) }
