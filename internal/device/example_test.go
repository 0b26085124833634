package device_test

import (
	"fmt"
	"strings"

	"github.com/novacron/perfpredict/internal/device"
)

// A matrix product on the device chosen by name: upload, enqueue, download.
func ExampleOpen() {
	dev, err := device.Open("cpu", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	q := dev.Queue(0)
	a, _ := dev.Alloc(4)
	b, _ := dev.Alloc(4)
	c, _ := dev.Alloc(4)
	_ = q.Upload(a, []float32{1, 2, 3, 4}) // [[1 2] [3 4]]
	_ = q.Upload(b, []float32{5, 6, 7, 8}) // [[5 6] [7 8]]
	q.Gemm(device.GemmArgs{M: 2, N: 2, K: 2, Alpha: 1, A: a, LDA: 2, B: b, LDB: 2, C: c, LDC: 2})
	out := make([]float32, 4)
	if err := q.Download(out, c); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out)
	// Output: [19 22 43 50]
}

// The whole model on a device, loaded by checkpoint names: with zero weights
// (and BatchNorm's unit variances) every prediction is the output bias and
// the attention is uniform over the steps.
func ExampleModel() {
	m, err := device.NewModel(device.CPU(), device.ModelConfig{Features: 3, Hidden: 4, Layers: 1, Outputs: 1, Head: []int{5}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	sizes := map[string]int{}
	_ = m.Save(func(name string, v []float32) error { sizes[name] = len(v); return nil })
	err = m.Load(func(name string) ([]float32, error) {
		v := make([]float32, sizes[name])
		switch {
		case name == "head.out.bias":
			v[0] = 0.5
		case strings.HasSuffix(name, "running_var"), name == "head.bn1.weight":
			for i := range v {
				v[i] = 1
			}
		}
		return v, nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	batch, steps := 2, 4
	pred, weights := make([]float32, batch), make([]float32, batch*steps)
	if err := m.Predict(pred, weights, make([]float32, batch*steps*3), batch, steps); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pred, weights[:steps])
	// Output: [0.5 0.5] [0.25 0.25 0.25 0.25]
}
