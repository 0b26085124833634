package serve_test

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/serve"
)

// cpu is six days of a synthetic CPU series at five minutes: the one
// metric, named "cpu", of a history.
func cpu() []baseline.Series {
	s := baseline.Series{Name: "cpu"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 288 * 6 {
		s.Times = append(s.Times, t0.Add(time.Duration(i)*5*time.Minute))
		s.Values = append(s.Values, 50+20*math.Sin(2*math.Pi*float64(i)/288)+float64(i%7))
	}
	return []baseline.Series{s}
}

// tiny trains a forecaster small enough for an example (a real one comes
// from forecast.Open on the artifact perfpredict train writes).
func tiny(d []baseline.Series) *forecast.Forecaster {
	o := forecast.DefaultOptions()
	o.Window, o.ScaleWindow, o.Hidden, o.Head, o.Epochs, o.Ensemble, o.Stride = 12, 24, 4, []int{8}, 1, 1, 4
	o.SwitchTrees = nil // small, for the example
	fc, err := forecast.Train(context.Background(), []baseline.Series{{Name: "web-1", Values: d[0].Values}}, o)
	if err != nil {
		panic(err)
	}
	return fc
}

// ExamplePredictor serves a forecaster to concurrent callers; its answers
// are the forecaster's, and when the model fails (error, panic, NaN,
// missed deadline) the fallback answers and says so.
func ExamplePredictor() {
	d := cpu()
	fc := tiny(d)
	p, err := serve.New(fc, serve.Options{Fallback: serve.Persistence{}, Timeout: time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	got, err := p.Predict(context.Background(), serve.Input{History: d[0].Values})
	if err != nil {
		fmt.Println(err)
		return
	}
	want, _ := fc.Forecast(context.Background(), d[0].Values)
	fmt.Println(got.Source, len(got.Points), math.Abs(got.Points[29].Value-want.Points[29].Value) < 1e-6*math.Abs(want.Points[29].Value))

	// A history shorter than the forecaster needs is refused.
	_, err = p.Predict(context.Background(), serve.Input{History: d[0].Values[:10]})
	fmt.Println(err)
	// Output:
	// model 30 true
	// serve: history holds 10 observations; the forecaster needs the last 25: bad input
}

// ExampleService_PredictDegradation asks whether CPU will breach an SLO
// within the design's 30 steps.
func ExampleService_PredictDegradation() {
	d := cpu()
	slo := 40.0 // breached whenever CPU is above 40%
	svc, err := serve.NewService(tiny(d), d, serve.ServiceOptions{Thresholds: []serve.Threshold{{Metric: "cpu", Above: &slo}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()
	deg, err := svc.PredictDegradation(context.Background(), d, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("degradation probability %.0f%%, first likely breach at step %d\n", 100*deg.Probability, deg.FirstBreach)
	fmt.Println(len(deg.Metrics[0].Steps), "steps with 10/50/90% intervals")
	fmt.Println(deg.Recommendations[0].Action)
	// Output:
	// degradation probability 100%, first likely breach at step 1
	// 30 steps with 10/50/90% intervals
	// scale out
}

// ExampleService_Forecast_switch serves each metric with a switch fitted
// on the history: each call feeds it the rows it brings after the last one
// the service saw, and Method says who answered.
func ExampleService_Forecast_switch() {
	d := cpu()
	fc := tiny(d)
	history := []baseline.Series{d[0].Slice(0, 288*5)} // five days to fit on
	svc, err := serve.NewService(fc, history, serve.ServiceOptions{Switch: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()
	for _, to := range []int{288*5 + 1, 288*5 + 2} { // one new row each time
		ps, err := svc.Forecast(context.Background(), []baseline.Series{d[0].Slice(to-100, to)})
		if err != nil {
			fmt.Println(err)
			return
		}
		p := ps[0].Points[11]
		fmt.Println(ps[0].Method, p.P10 <= p.Value && p.Value <= p.P90)
	}
	// A call that skips rows is the forecaster's.
	ps, _ := svc.Forecast(context.Background(), []baseline.Series{d[0].Slice(288*5+50, 288*5+150)})
	fmt.Println(ps[0].Method)
	// Output:
	// switch true
	// switch true
	// model
}

// A Follower serves one series with a switch: fitted on its history, then
// given each new window of rows, of which it reads those after the last
// it saw.
func ExampleFollower() {
	d := cpu()
	fc := tiny(d)
	f, err := serve.NewFollower(fc, d[0].Slice(0, 288*5)) // five days to fit on
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Last().Equal(d[0].Times[288*5-1]))
	for _, to := range []int{288*5 + 1, 288*5 + 3} {
		w := d[0].Slice(to-100, to)
		pts, ok := f.Points(w.Times, w.Values, 5*time.Minute, fc.Horizon())
		fmt.Println(ok, len(pts), f.Last().Equal(w.Times[99]))
	}
	// Rows that skip some: the caller answers with the model.
	w := d[0].Slice(288*5+50, 288*5+150)
	_, ok := f.Points(w.Times, w.Values, 5*time.Minute, fc.Horizon())
	fmt.Println(ok)
	// Output:
	// true
	// true 30 true
	// true 30 true
	// false
}
