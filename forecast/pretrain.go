package forecast

import (
	"fmt"
	"slices"

	perfpredict "github.com/novacron/perfpredict"
)

// checkInit reports why o.Init cannot start o's networks: its recipe must
// be o's, since the networks' inputs and outputs mean what the recipe
// says, and its networks must have o's architecture.
func (o Options) checkInit() error {
	in := o.Init
	if in == nil {
		return nil
	}
	if len(in.members) == 0 {
		return fmt.Errorf("forecast: options: Init holds no network")
	}
	if a, b := in.recipe, o.recipe(); a.Window != b.Window || a.ScaleWindow != b.ScaleWindow ||
		a.Horizon != b.Horizon || a.TargetClip != b.TargetClip || !slices.Equal(a.Inputs, b.Inputs) || a.Season != b.Season {
		return fmt.Errorf("forecast: options: Init's recipe %+v differs from the options' %+v", a, b)
	}
	c := in.members[0].Config()
	if c.Hidden != o.Hidden || c.Layers != o.Layers || !slices.Equal(c.Head, o.Head) {
		return fmt.Errorf("forecast: options: Init's networks (hidden %d, layers %d, head %v) differ from the options' (hidden %d, layers %d, head %v)",
			c.Hidden, c.Layers, c.Head, o.Hidden, o.Layers, o.Head)
	}
	return nil
}

// initMember starts network i from o.Init's network i (modulo their
// number), when o.Init is set.
func (o Options) initMember(m *perfpredict.Model, i int) error {
	if o.Init == nil {
		return nil
	}
	if err := m.CopyWeights(o.Init.members[i%len(o.Init.members)]); err != nil {
		return fmt.Errorf("forecast: starting network %d from Init: %w", i+1, err)
	}
	return nil
}
