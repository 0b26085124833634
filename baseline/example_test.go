package baseline_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/novacron/perfpredict/baseline"
)

// daily is a 5-minute series with a daily cycle, a slow drift and noise
// from a seeded generator, ten days long.
func daily() baseline.Series {
	n := 10 * 288
	s := baseline.Series{Name: "daily", Times: make([]time.Time, n), Values: make([]float64, n)}
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		s.Times[i] = t0.Add(time.Duration(i) * 5 * time.Minute)
		s.Values[i] = 50 + 0.002*float64(i) + 10*math.Sin(2*math.Pi*float64(i)/288) + 2*rng.NormFloat64()
	}
	return s
}

// Evaluate every standard baseline by the protocol and summarise MASE.
func ExampleEvaluate() {
	s := daily()
	period, _ := baseline.SeasonFromCadence(s.Times)
	fmt.Println("season:", period)
	for _, f := range baseline.Standard(period, 12) {
		m, err := baseline.Evaluate(s, f, 1)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-15s MASE %.2f\n", f.Name(), m.MASE)
	}
	// Output:
	// season: 288
	// persistence     MASE 1.02
	// seasonal_naive  MASE 0.97
	// ma12            MASE 0.80
	// holt_winters    MASE 0.71
	// ridge_ar        MASE 0.73
}

// Fit once, then feed new observations without refitting.
func ExampleHoltWinters() {
	s := daily()
	sp := baseline.SplitOf(s.Len())
	hw := baseline.NewHoltWinters(288)
	if err := hw.Fit(s.Slice(0, sp.Fit()), sp.Train); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("seasonal:", hw.Seasonal)
	for _, v := range s.Values[sp.Fit() : sp.Fit()+3] {
		hw.Update(v)
	}
	f, _ := hw.Forecast(12)
	fmt.Printf("forecast 12 steps ahead: %.1f\n", f)
	// Output:
	// seasonal: true
	// forecast 12 steps ahead: 53.9
}

// Ridge AR chooses its penalty per horizon on the validation split.
func ExampleRidgeAR() {
	s := daily()
	sp := baseline.SplitOf(s.Len())
	r := baseline.NewRidgeAR(60, 2)
	if err := r.Fit(s.Slice(0, sp.Fit()), sp.Train); err != nil {
		fmt.Println(err)
		return
	}
	f, _ := r.Forecast(1)
	fmt.Printf("alpha per horizon %v, next value %.1f (actual %.1f)\n", r.Alpha, f, s.Values[sp.Fit()])
	// Output:
	// alpha per horizon [100 100], next value 55.3 (actual 53.8)
}

func ExampleSeasonalNaive() {
	f := baseline.NewSeasonalNaive(3)
	for _, v := range []float64{1, 2, 3, 4, 5} {
		f.Update(v)
	}
	a, _ := f.Forecast(1)
	b, _ := f.Forecast(4)
	fmt.Println(a, b)
	// Output: 3 3
}

func ExampleReadCSV() {
	in := "timestamp,value\n2014-02-14 14:35:00,0.134\n2014-02-14 14:30:00,0.132\n"
	s, err := baseline.ReadCSV(strings.NewReader(in), "cpu.csv", "cpu", "")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Values, s.Times[0].Format(time.TimeOnly))
	_, err = baseline.ReadCSV(strings.NewReader("timestamp,cpu\n2014-02-14 14:30:00,x\n"), "cpu.csv", "cpu", "cpu")
	fmt.Println(err)
	// Output:
	// [0.132 0.134] 14:30:00
	// cpu.csv:2: field "cpu": not a number: "x"
}

func ExampleGeoMean() {
	fmt.Printf("%.2f\n", baseline.GeoMean([]float64{0.5, 2, 1}))
	// Output: 1.00
}

// Split-conformal 80% intervals for Holt-Winters: its own validation
// residuals' 10% and 90% quantiles around its point forecasts, scored on
// the test split.
func ExampleScoreIntervals() {
	s := daily()
	hw := baseline.NewHoltWinters(288)
	lo, hi, err := baseline.ConformalOffsets(s, hw, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	pts, err := baseline.Forecasts(s, hw, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	p10, p90 := make([]float64, len(pts[0])), make([]float64, len(pts[0]))
	for k, v := range pts[0] {
		p10[k], p90[k] = v+lo[0], v+hi[0]
	}
	m, err := baseline.ScoreIntervals(s.Values, p10, pts[0], p90)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("coverage %.0f%% of %d targets, Winkler %.1f, pinball %.2f\n", 100*m.Coverage, m.N, m.Winkler, m.Pinball)
	// Output:
	// coverage 81% of 432 targets, Winkler 3.3, pinball 0.23
}

// NAB's anomaly windows, looked up by the name perfpredict gives a series
// read from a one-column file.
func ExampleParseLabels() {
	l, err := baseline.ParseLabels(strings.NewReader(`{"realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv":
		[["2014-02-26 13:45:00.000000", "2014-02-27 06:25:00.000000"]]}`), "windows.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	w := l.For("ec2_cpu_utilization_24ae8d")[0]
	fmt.Println(w.Contains(time.Date(2014, 2, 27, 0, 0, 0, 0, time.UTC)), w.End.Sub(w.Start))
	// Output:
	// true 16h40m0s
}
