package serve

import (
	"strings"
	"testing"
)

func TestParseProtocolInputs(t *testing.T) {
	const spec = "rel_last@30,level@10,diff@2.5"
	want := []ProtocolInput{{"rel_last", 30}, {"level", 10}, {"diff", 2.5}}
	got, err := ParseProtocolInputs(strings.Split(spec, ","))
	if err != nil || len(got) != len(want) {
		t.Fatalf("%v: %v, %v", spec, got, err)
	}
	for i := range got {
		if got[i] != want[i] || got[i].String() != strings.Split(spec, ",")[i] {
			t.Errorf("input %d: %v, want %v", i, got[i], want[i])
		}
	}
	for _, bad := range [][]string{nil, {"rel_last"}, {"rel_last@x"}, {"rel_last@-1"}, {"hour_sin@3"}, {"level@Inf"}} {
		if _, err := ParseProtocolInputs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestProtocolTargetForecast: Forecast inverts Target, and the windows of
// WithInputs use the scales fitted before.
func TestProtocolTargetForecast(t *testing.T) {
	d := synthetic(100, 1)
	p, err := FitProtocol(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	y := d.Values[0]
	for _, h := range []int{1, 5} {
		out := p.Target(y, 80, h)
		if got := p.Forecast(y, 80, out); got-y[80+h] > 1e-9 || y[80+h]-got > 1e-9 {
			t.Errorf("h=%d: Forecast(Target) = %v, want %v", h, got, y[80+h])
		}
	}
	q := p.WithInputs([]ProtocolInput{{"diff", 30}})
	if q.Scale != p.Scale || len(q.Names()) != 1 || q.Names()[0] != "diff@30" || len(p.Inputs()) != 3 {
		t.Fatalf("WithInputs: scale %v names %v; original inputs %v", q.Scale, q.Names(), p.Inputs())
	}
	full, one := make([]float32, 4*3), make([]float32, 4)
	p.Window(full, y, 50, 4)
	q.Window(one, y, 50, 4)
	for r := range 4 {
		if one[r] != full[r*3+2] {
			t.Errorf("row %d: diff %v, want %v (the third input of the full recipe)", r, one[r], full[r*3+2])
		}
	}
}
