package features_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/novacron/perfpredict/features"
)

const exampleCSV = `timestamp,latency_ms,cpu_usage
2024-03-04 10:00:00,12.0,40
2024-03-04 10:01:00,13.0,42
2024-03-04 10:03:00,15.0,46
2024-03-04 10:02:00,14.0,44
2024-03-04 10:04:00,11.0,41
2024-03-04 10:04:00,11.0,41
2024-03-04 10:05:00,,43
2024-03-04 10:06:00,17.0,45
`

func ExampleRead() {
	s, rep, err := features.Read(strings.NewReader(exampleCSV), "metrics.csv", features.LoadOptions{Format: features.FormatCSV})
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Names, rep.Rows, "rows")
	fmt.Println(features.FormatTime(s.Times[0]), s.Values[1][0])

	_, _, err = features.Read(strings.NewReader("timestamp,x\n2024-03-04 10:00:00,fast\n"), "bad.csv", features.LoadOptions{})
	fmt.Println(err)
	// Output:
	// [cpu_usage latency_ms] 8 rows
	// 2024-03-04T10:00:00Z 12
	// bad.csv:2: field "x": not a number: "fast"
}

// A reader that needs every value checks the table after parsing; RowError
// names the row's line as a parse error would.
func ExampleTable_RowError() {
	tb, _, err := features.Read(strings.NewReader(exampleCSV), "metrics.csv", features.LoadOptions{})
	if err != nil {
		panic(err)
	}
	lat := slices.Index(tb.Names, "latency_ms")
	for i, v := range tb.Values[lat] {
		if math.IsNaN(v) {
			fmt.Println(tb.RowError(i, "latency_ms", errors.New("missing value")))
		}
	}
	// Output:
	// metrics.csv:8: field "latency_ms": missing value
}

func ExampleResample() {
	s, _, _ := features.Read(strings.NewReader(exampleCSV), "metrics.csv", features.LoadOptions{})
	g, rep, err := features.Resample(s, features.GridOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(rep)
	fmt.Println(g.Values[1]) // latency_ms, the missing 10:05 value interpolated
	// Output:
	// 8 rows -> 7 grid points at 1m0s: 1 exact duplicates dropped, 0 conflicting duplicate timestamps averaged, 0 timestamps binned, 1 values interpolated, 0 gaps (0 points dropped)
	// [12 13 14 15 11 14 17]
}

func ExampleEngineer() {
	s, _, _ := features.Read(strings.NewReader(exampleCSV), "metrics.csv", features.LoadOptions{})
	g, _, _ := features.Resample(s, features.GridOptions{})
	f, err := features.Engineer(g, &features.Options{Windows: []time.Duration{3 * time.Minute}, Lags: []int{1}})
	if err != nil {
		panic(err)
	}
	fmt.Println(f.Rows(), "rows x", f.Cols(), "features")
	row := f.Row(6)
	for _, name := range []string{"hour", "dow", "latency_ms", "latency_ms_roll_mean_3m", "latency_ms_roll_max_3m", "latency_ms_lag_1", "latency_ms_diff_1", "latency_ms_pct_1", "cpu_usage_trend_30m"} {
		fmt.Printf("%s=%.4g ", name, row[f.Column(name)])
	}
	fmt.Println()
	// Output:
	// 7 rows x 35 features
	// hour=10 dow=0 latency_ms=17 latency_ms_roll_mean_3m=14 latency_ms_roll_max_3m=17 latency_ms_lag_1=14 latency_ms_diff_1=3 latency_ms_pct_1=0.2143 cpu_usage_trend_30m=0.5
}

func ExampleScaler() {
	s, _, _ := features.Read(strings.NewReader(exampleCSV), "metrics.csv", features.LoadOptions{})
	g, _, _ := features.Resample(s, features.GridOptions{})
	f, _ := features.Engineer(g, nil)
	sp, _ := features.SplitRows(f.Rows(), features.DefaultRatios())
	sc, err := features.FitScaler(f, 0, sp.TrainEnd) // train rows only
	if err != nil {
		panic(err)
	}
	c := f.Column("latency_ms")
	// Train is floor(0.7*7) = 4 rows: 12, 13, 14, 15.
	fmt.Printf("latency_ms: mean %.3g std %.3g\n", sc.Mean[c], sc.Std[c])
	fmt.Printf("hour (constant): mean %v std %v\n", sc.Mean[0], sc.Std[0])
	sc.Transform(f.Data)
	fmt.Printf("last latency scaled %.3f, back %.3g\n", f.Row(6)[c], sc.InverseValue(c, float64(f.Row(6)[c])))
	b, _ := json.Marshal(sc)
	back, _ := features.ParseScaler(b)
	fmt.Println(len(back.Names) == f.Cols())
	// Output:
	// latency_ms: mean 13.5 std 1.12
	// hour (constant): mean 10 std 1
	// last latency scaled 3.130, back 17
	// true
}

func ExampleWindows() {
	s, _, _ := features.Read(strings.NewReader(exampleCSV), "metrics.csv", features.LoadOptions{})
	g, _, _ := features.Resample(s, features.GridOptions{})
	f, _ := features.Engineer(g, nil)
	w, err := features.NewWindows(f, features.WindowOptions{Steps: 3, Targets: []string{"latency_ms"}, Horizons: []int{1, 2}})
	if err != nil {
		panic(err)
	}
	x, y := w.Tensors()
	fmt.Println(w.Len(), "windows of", w.Steps(), "x", w.Features(), "->", w.TargetNames())
	fmt.Println(len(x), len(y), y[:2])

	b := w.Batches(2, 1)
	for b.Next() {
		_, yb := b.Batch()
		fmt.Println(b.N(), yb)
	}
	// Output:
	// 3 windows of 3 x 89 -> [latency_ms_h1 latency_ms_h2]
	// 801 6 [15 11]
	// 2 [15 11 11 14]
	// 1 [14 17]
}

func ExampleSplitRows() {
	sp, _ := features.SplitRows(4021, features.DefaultRatios())
	fmt.Printf("%+v\n", sp)
	sp, _ = features.SplitRows(1000, features.SplitRatios{Train: 0.7, Val: 0.1}) // test 0.2, validation 0.1
	fmt.Printf("%+v\n", sp)
	// Output:
	// {TrainEnd:2814 ValEnd:3417 N:4021}
	// {TrainEnd:700 ValEnd:800 N:1000}
}

func ExamplePrepare() {
	d, err := features.Prepare("../testdata/nab/realKnownCause/ec2_request_latency_system_failure.csv", features.PrepareOptions{
		Windows: features.WindowOptions{Horizons: []int{1, 12}}, // targets: the first metric ("value")
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(d.GridReport.Points, "rows,", d.Frame.Cols(), "features,", d.GridReport.Gaps, "gap")
	fmt.Printf("split %+v\n", d.Split)
	fmt.Println("windows:", d.Train.Len(), d.Val.Len(), d.Test.Len(), "targets", d.Train.TargetNames())
	x, y := d.Train.Tensors()
	fmt.Println(len(x) == d.Train.Len()*60*d.Frame.Cols(), len(y) == d.Train.Len()*2)
	// Output:
	// 4021 rows, 48 features, 1 gap
	// split {TrainEnd:2814 ValEnd:3417 N:4021}
	// windows: 2672 532 533 targets [value_h1 value_h12]
	// true true
}
