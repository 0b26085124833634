package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// PNG figures for --plots: forecasts against the actual test values, the
// training curves and the attention weights over the last window, so a
// person sees at a glance what the table says.

// plotPoints is how many of the last test targets a forecast plot shows
// (half a day at 5 minutes), so the lines stay readable.
const plotPoints = 144

// methodColors gives each method a fixed colour across figures.
var methodColors = map[string]color.Color{
	"actual":             color.Black,
	"persistence":        color.RGBA{R: 150, G: 150, B: 150, A: 255},
	"ridge_ar":           color.RGBA{R: 31, G: 119, B: 180, A: 255},
	forecast.ModelMethod: color.RGBA{R: 214, G: 39, B: 40, A: 255},
}

// plotForecasts writes dir/<series>_h<h>.png: the last plotPoints test
// targets of s on a time axis, the served forecast of each from h steps
// before with its p10-p90 band, and persistence for reference. fs are the
// forecaster's scored forecasts of s at h, in target order.
func plotForecasts(dir string, s baseline.Series, h int, fs []forecast.ScoredForecast) (string, error) {
	from := max(0, len(fs)-plotPoints)
	fs = fs[from:]
	x := func(i int) float64 { return float64(s.Times[i].Unix()) }
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: forecast %d step(s) ahead with its p10-p90 band, last %d test targets", s.Name, h, len(fs))
	p.X.Label.Text = "time (UTC)"
	p.Y.Label.Text = "value"
	p.X.Tick.Marker = plot.TimeTicks{Format: "01-02 15:04"}
	p.Legend.Top = true
	band := make(plotter.XYs, 0, 2*len(fs))
	for _, f := range fs {
		band = append(band, plotter.XY{X: x(f.Origin + h), Y: f.P90})
	}
	for i := len(fs) - 1; i >= 0; i-- {
		band = append(band, plotter.XY{X: x(fs[i].Origin + h), Y: fs[i].P10})
	}
	poly, err := plotter.NewPolygon(band)
	if err != nil {
		return "", err
	}
	poly.Color = color.NRGBA{R: 214, G: 39, B: 40, A: 60}
	poly.LineStyle.Width = 0
	p.Add(poly)
	p.Legend.Add("model p10-p90", poly)
	add := func(name string, y func(f forecast.ScoredForecast) float64, width vg.Length) error {
		pts := make(plotter.XYs, len(fs))
		for i, f := range fs {
			pts[i] = plotter.XY{X: x(f.Origin + h), Y: y(f)}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = methodColors[name]
		l.Width = width
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
	if err := add("actual", func(f forecast.ScoredForecast) float64 { return f.Actual }, vg.Points(1.5)); err != nil {
		return "", err
	}
	if err := add("persistence", func(f forecast.ScoredForecast) float64 { return s.Values[f.Origin] }, vg.Points(0.8)); err != nil {
		return "", err
	}
	if err := add(forecast.ModelMethod, func(f forecast.ScoredForecast) float64 { return f.Forecast }, vg.Points(1.2)); err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("%s_h%d.png", strings.ReplaceAll(s.Name, ":", "_"), h))
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
	}{{"train", tr, methodColors["ridge_ar"]}, {"validation", va, methodColors[forecast.ModelMethod]}} {
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
	bars.Color = methodColors[forecast.ModelMethod]
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
	path := filepath.Join(dir, strings.ReplaceAll(name, ":", "_")+"_attention.png")
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
