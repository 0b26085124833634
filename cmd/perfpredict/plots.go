package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
)

// PNG figures for --plots: forecasts against the actual test values, the
// training curves and the attention weights over the last window, so a
// person sees at a glance what the table says.

// plotPoints is how many of the last test targets a forecast plot shows
// (half a day at 5 minutes), so the lines stay readable.
const plotPoints = 144

// methodColors gives each method a fixed colour across figures.
var methodColors = map[string]color.Color{
	"actual":         color.Black,
	"persistence":    color.RGBA{R: 150, G: 150, B: 150, A: 255},
	"seasonal_naive": color.RGBA{R: 140, G: 86, B: 75, A: 255},
	"ma12":           color.RGBA{R: 44, G: 160, B: 44, A: 255},
	"holt_winters":   color.RGBA{R: 148, G: 103, B: 189, A: 255},
	"ridge_ar":       color.RGBA{R: 31, G: 119, B: 180, A: 255},
	lstmMethod:       color.RGBA{R: 255, G: 127, B: 14, A: 255},
	modelMethod:      color.RGBA{R: 214, G: 39, B: 40, A: 255},
}

// plotForecasts writes dir/<series>_h<h>.png: the last plotPoints test
// targets of s and every method's forecasts of them.
func plotForecasts(dir string, s baseline.Series, h int, preds map[string][]float64) (string, error) {
	sp := baseline.SplitOf(s.Len())
	tg := baseline.Targets(sp)
	from := max(0, len(tg)-plotPoints)
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: forecasts %d step(s) ahead, last %d test targets", s.Name, h, len(tg)-from)
	p.X.Label.Text = "test step"
	p.Y.Label.Text = "value"
	p.Legend.Top = true
	add := func(name string, ys func(k int) float64, width vg.Length) error {
		pts := make(plotter.XYs, 0, len(tg)-from)
		for k := from; k < len(tg); k++ {
			pts = append(pts, plotter.XY{X: float64(k), Y: ys(k)})
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = methodColors[name]
		if l.Color == nil {
			l.Color = color.RGBA{R: 255, G: 127, B: 14, A: 255}
		}
		l.Width = width
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
	if err := add("actual", func(k int) float64 { return s.Values[tg[k]] }, vg.Points(1.5)); err != nil {
		return "", err
	}
	for _, m := range orderedMethods(preds) {
		if m == bestOnValMethod {
			continue // the same line as one of the baselines
		}
		pr := preds[m]
		if err := add(m, func(k int) float64 { return pr[k] }, vg.Points(0.8)); err != nil {
			return "", err
		}
	}
	path := filepath.Join(dir, fmt.Sprintf("%s_h%d.png", s.Name, h))
	return path, savePNG(p, path, 11*vg.Inch, 5*vg.Inch)
}

// plotTraining writes dir/<series>_training.png: training and validation
// loss per epoch, the kept epoch marked.
func plotTraining(dir, name string, hist *perfpredict.History) (string, error) {
	if hist == nil || len(hist.Epochs) == 0 {
		return "", nil
	}
	p := plot.New()
	p.Title.Text = name + ": training and validation loss per epoch"
	p.Legend.Top = true // the curves fall towards the bottom right
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = "loss"
	var tr, va plotter.XYs
	for _, e := range hist.Epochs {
		tr = append(tr, plotter.XY{X: float64(e.Epoch), Y: e.TrainLoss})
		if !math.IsNaN(e.ValLoss) {
			va = append(va, plotter.XY{X: float64(e.Epoch), Y: e.ValLoss})
		}
	}
	for _, c := range []struct {
		name string
		pts  plotter.XYs
		col  color.Color
	}{{"train", tr, methodColors["ridge_ar"]}, {"validation", va, methodColors[modelMethod]}} {
		if len(c.pts) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(c.pts)
		if err != nil {
			return "", err
		}
		l.Color, pts.Color = c.col, c.col
		p.Add(l, pts)
		p.Legend.Add(c.name, l, pts)
	}
	if hist.BestEpoch > 0 {
		best := plotter.XYs{{X: float64(hist.BestEpoch), Y: hist.BestLoss}}
		sc, err := plotter.NewScatter(best)
		if err != nil {
			return "", err
		}
		sc.Radius = vg.Points(5)
		sc.Color = color.Black
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("kept (epoch %d)", hist.BestEpoch), sc)
	}
	path := filepath.Join(dir, name+"_training.png")
	return path, savePNG(p, path, 7*vg.Inch, 4*vg.Inch)
}

// plotAttention writes dir/<series>_attention.png: the attention weights
// over the time steps of the last window and, scaled to the same axis, the
// standardised input values of that window.
func plotAttention(dir, name string, weights []float32, values []float64) (string, error) {
	if len(weights) == 0 {
		return "", nil
	}
	p := plot.New()
	p.Title.Text = name + ": attention over the last window"
	p.X.Label.Text = "steps before the forecast origin"
	p.Y.Label.Text = "attention weight"
	p.Legend.Top, p.Legend.Left = true, true
	T := len(weights)
	ws := make(plotter.Values, T)
	for i, w := range weights {
		ws[i] = float64(w)
	}
	bars, err := plotter.NewBarChart(ws, vg.Points(4))
	if err != nil {
		return "", err
	}
	bars.Color = methodColors[modelMethod]
	bars.LineStyle.Width = 0
	p.Add(bars)
	p.Legend.Add("attention", bars)
	// The window's values, min-max scaled onto the weights' range.
	if len(values) == T {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range values {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		var wmax float64
		for _, w := range ws {
			wmax = math.Max(wmax, w)
		}
		pts := make(plotter.XYs, T)
		for i, v := range values {
			y := wmax / 2
			if hi > lo {
				y = (v - lo) / (hi - lo) * wmax
			}
			pts[i] = plotter.XY{X: float64(i), Y: y}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return "", err
		}
		l.Color = color.Black
		p.Add(l)
		p.Legend.Add("value (rescaled)", l)
	}
	labels := make([]string, T)
	for i := range labels {
		if k := T - 1 - i; k%10 == 0 {
			labels[i] = fmt.Sprintf("-%d", k)
		}
	}
	p.NominalX(labels...)
	path := filepath.Join(dir, name+"_attention.png")
	return path, savePNG(p, path, 8*vg.Inch, 4*vg.Inch)
}

// savePNG writes the plot, creating the directory.
func savePNG(p *plot.Plot, path string, w, h vg.Length) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := p.Save(w, h, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}
