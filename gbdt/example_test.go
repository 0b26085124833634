package gbdt_test

import (
	"context"
	"fmt"

	"github.com/novacron/perfpredict/gbdt"
)

// A model of y = 2 for x <= 5 and 7 above, learnt from 100 rows.
func ExampleFit() {
	d := &gbdt.Data{Rows: 100, Cols: 1}
	for i := range 100 {
		x := float64(i) / 10
		y := 2.0
		if x > 5 {
			y = 7
		}
		d.X, d.Y = append(d.X, x), append(d.Y, y)
	}
	p := gbdt.DefaultParams()
	p.Rounds, p.LearningRate, p.MinLeaf = 50, 0.3, 5
	m, _, err := gbdt.Fit(context.Background(), p, d, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.2f %.2f\n", m.Predict([]float64{1}), m.Predict([]float64{9}))
	// Output: 2.00 7.00
}
