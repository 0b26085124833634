package forecast

import (
	"context"
	"errors"
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
