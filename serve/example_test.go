package serve_test

import (
	"context"
	"fmt"
	"math"
	"time"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/serve"
)

// ExamplePredictor serves a model; without one (or when it fails, returns
// NaN or misses the deadline) the fallback answers and says so.
func ExamplePredictor() {
	m, _ := perfpredict.New(perfpredict.Config{Hidden: 8, Layers: 1, Head: []int{8}, Steps: 12, Seed: 1}, 2, 3)
	m.Target = "latency_ms" // three steps of one metric, predicted as levels
	p, err := serve.New(m, serve.Options{Fallback: serve.Persistence{}, Timeout: time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	w := serve.Window{X: make([]float32, 12*2), History: [][]float64{{41, 42, 40}}}
	got, err := p.Predict(context.Background(), w)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got.Source, got.Metrics, got.Horizon, len(got.Attention))
	got.Release()

	// A window with a NaN is refused with an error naming the feature.
	w.X[5] = float32(math.NaN())
	_, err = p.Predict(context.Background(), w)
	fmt.Println(err)

	fb, _ := serve.NewWithSpec(nil, p.Spec(), serve.Options{Fallback: serve.Persistence{}})
	got, _ = fb.Predict(context.Background(), w)
	fmt.Println(got.Source, got.Method, got.Reason, got.Values)
	// Output:
	// model [latency_ms] 3 12
	// serve: window: feature column 1 at step 3 of 12 is NaN: bad input
	// fallback persistence no model [40 40 40]
}

// ExampleService_PredictDegradation trains a small model on a synthetic
// CPU series, then asks whether CPU will breach an SLO within 30 steps.
func ExampleService_PredictDegradation() {
	d := &serve.Data{Name: "web-1", Metrics: []string{"cpu"}, Values: [][]float64{nil}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 288 * 6 { // six days at five minutes
		d.Times = append(d.Times, t0.Add(time.Duration(i)*5*time.Minute))
		d.Values[0] = append(d.Values[0], 50+20*math.Sin(2*math.Pi*float64(i)/288)+float64(i%7))
	}
	fz, _ := serve.FitProtocol(d, nil) // the train command's recipe
	cfg := perfpredict.Config{Hidden: 8, Layers: 1, Head: []int{16}, Dropout: -1, Steps: 24, Epochs: 2, BatchSize: 64, Seed: 1}
	m, _, err := serve.Train(context.Background(), d, fz, serve.TrainOptions{Config: cfg, Horizon: 30, Stride: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	slo := 40.0 // breached whenever CPU is above 40%
	svc, err := serve.NewService(context.Background(), m, d, serve.ServiceOptions{
		Thresholds: []serve.Threshold{{Metric: "value", Above: &slo}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()
	deg, err := svc.PredictDegradation(context.Background(), d.Slice(d.Len()-200, d.Len()), 30)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("degradation probability %.0f%%, first likely breach at step %d\n", 100*deg.Probability, deg.FirstBreach)
	fmt.Println(len(deg.Metrics[0].Steps), "steps with 10/50/90% intervals")
	fmt.Println(deg.Recommendations[0].Action)
	// Output:
	// degradation probability 99%, first likely breach at step 1
	// 30 steps with 10/50/90% intervals
	// scale out
}

// ExampleEnsemble averages two models' forecasts.
func ExampleEnsemble() {
	var members []*serve.Predictor
	for seed := range 2 {
		m, _ := perfpredict.New(perfpredict.Config{Hidden: 4, Layers: 1, Head: []int{4}, Steps: 6, Seed: uint64(seed)}, 1, 2)
		p, _ := serve.New(m, serve.Options{})
		defer p.Close()
		members = append(members, p)
	}
	e, _ := serve.NewEnsemble(serve.Median, nil, members...)
	got, err := e.Predict(context.Background(), serve.Window{X: make([]float32, 6)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got.Source, got.Method, len(got.Values))
	// Output:
	// ensemble ensemble(median) 2
}
