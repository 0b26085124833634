package serve

import (
	"strings"
	"testing"

	perfpredict "github.com/novacron/perfpredict"
)

// FuzzParseSpec: any Target metadata gives a Spec that agrees with the
// model's outputs, or an error; never a panic.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"", "value", "value_delta", "a_delta,b_delta", "a,b_delta", "a,,b", "value_delta_window", " x , y ", "a,a"} {
		f.Add(s)
	}
	m, err := perfpredict.New(perfpredict.Config{Hidden: 2, Layers: 1, Head: []int{2}}, 1, 6)
	if err != nil {
		f.Fatal(err)
	}
	m.Scaler = &perfpredict.TargetScaler{Mean: make([]float64, 6), Std: []float64{1, 1, 1, 1, 1, 1}}
	f.Fuzz(func(t *testing.T, target string) {
		m.Target = target
		sp, err := ParseSpec(m)
		if err != nil {
			return
		}
		if sp.Outputs() != 6 || len(sp.Metrics) == 0 {
			t.Fatalf("%q: %d metrics x %d steps for 6 outputs", target, len(sp.Metrics), sp.Horizon)
		}
		for _, name := range sp.Metrics {
			if name == "" || strings.HasSuffix(name, DeltaSuffix) && sp.Delta {
				t.Fatalf("%q: metric %q", target, name)
			}
		}
	})
}

// FuzzProtocolInputs: feature names of the protocol recipe parse or fail
// cleanly.
func FuzzProtocolInputs(f *testing.F) {
	for _, s := range []string{"rel_last@30", "level@10", "diff@x", "@", "level@-1", "level@Inf", "foo@1"} {
		f.Add(s)
	}
	d := synthetic(100, 1)
	f.Fuzz(func(t *testing.T, name string) {
		p, err := FitProtocol(d, []string{name})
		if err != nil {
			return
		}
		rows, err := p.Prepare(d)
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]float32, 10)
		rows.Window(dst, 50, 10)
		for _, v := range dst {
			if v != v {
				t.Fatalf("%q: NaN feature", name)
			}
		}
	})
}
