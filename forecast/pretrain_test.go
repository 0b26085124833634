package forecast

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
)

// A network started from Init begins where Init's networks ended: after one
// epoch at a learning rate too small to move it, its validation loss is
// Init's, far below that of the same network from random weights.
func TestTrainFromInit(t *testing.T) {
	init, series := tinyForecaster(t)
	o := tinyOptions()
	o.Epochs, o.Ensemble, o.LearningRate, o.Seed = 1, 1, 1e-12, 7
	scratch, err := Train(context.Background(), series, o)
	if err != nil {
		t.Fatal(err)
	}
	o.Init = init
	tuned, err := Train(context.Background(), series, o)
	if err != nil {
		t.Fatal(err)
	}
	got, fresh := tuned.Info().Members[0].ValLoss, scratch.Info().Members[0].ValLoss
	was := init.Info().Members[0].ValLoss
	if !(got < fresh) || got > was*1.2 {
		t.Errorf("validation loss from Init %.4f, from scratch %.4f; Init's own %.4f", got, fresh, was)
	}
	if tuned.Info().Members[0].Seed != 7 {
		t.Errorf("seed %d, want the options' 7", tuned.Info().Members[0].Seed)
	}
}

func TestInitMustMatch(t *testing.T) {
	init, series := tinyForecaster(t)
	for name, edit := range map[string]func(*Options){
		"recipe": func(o *Options) { o.ScaleWindow++ },
		"hidden": func(o *Options) { o.Hidden++ },
		"head":   func(o *Options) { o.Head = []int{9} },
	} {
		o := tinyOptions()
		o.Init = init
		edit(&o)
		_, err := Train(context.Background(), series, o)
		if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "Init") {
			t.Errorf("%s differs: %v, want a bad-input error naming Init", name, err)
		}
	}
}

// Each augmented window is a training window with one level shift inside
// the steps the network reads: its diff input jumps by 3 to 30 units at one
// step, and its targets move with the shift (they equal the original
// window's, as changes from a shifted last value).
func TestAugmentShifts(t *testing.T) {
	r := Recipe{Window: 10, ScaleWindow: 10, Horizon: 2, Inputs: []Input{{InputDiff, 100}}, TargetClip: 100}
	y := make([]float64, 200)
	for i := range y {
		y[i] = float64(i % 2) // unit 1, diffs ±1
	}
	tr := &windows{}
	for t := r.Needs() - 1; t+r.Horizon < len(y); t++ {
		tr.add(r, y, 0, t)
	}
	n := tr.n
	augmentShifts(tr, r, [][]float64{y}, 0.5, 1)
	if want := n + int(math.Round(0.5*float64(n))); tr.n != want {
		t.Fatalf("%d windows after augmenting %d by half, want %d", tr.n, n, want)
	}
	for i := n; i < tr.n; i++ {
		big := 0
		for _, d := range tr.x[i*r.Window : (i+1)*r.Window] {
			if math.Abs(float64(d)) > 2 {
				big++
				// the shift over the window's unit, which the shift itself inflates
				if math.Abs(float64(d)) > 30*(1+0.1) {
					t.Errorf("window %d: a diff of %v units", i, d)
				}
			}
		}
		if big != 1 {
			t.Fatalf("window %d holds %d jumps, want one: %v", i, big, tr.x[i*r.Window:(i+1)*r.Window])
		}
	}
}
