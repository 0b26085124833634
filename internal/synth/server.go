package synth

import (
	"math"
	"math/rand/v2"
)

// Server metrics in the spirit of KernelSynth and ForecastPFN: a level with
// daily (288 steps) and weekly seasonality, a trend, AR(1) noise that may be
// heavy-tailed and grow with the level, and events (level shifts, ramps,
// spikes, bursts, flat stretches), shaped as a CPU percentage, a count or a
// positive quantity. Spec says what a series holds, so a test can build one
// with a known event; Random draws a spec, Server both.

// Kind is what a series measures, which bounds its values.
type Kind int

const (
	// Percent is clipped to [0, 100] (CPU utilisation).
	Percent Kind = iota
	// Count is rounded to whole numbers, never negative (requests).
	Count
	// Positive is never negative (bytes, latency).
	Positive
)

// EventKind is what an event does to the series.
type EventKind int

const (
	// Shift adds Size to every step from Start on.
	Shift EventKind = iota
	// Ramp adds Size linearly over Len steps from Start, then Size.
	Ramp
	// Spike adds Size to the Len steps from Start.
	Spike
	// Burst adds Size to the Len steps from Start and triples their noise.
	Burst
	// Flat holds the value of step Start-1 over the Len steps from Start
	// (a stuck or idle sensor); it applies last, after the kind's bounds.
	Flat
)

// Event is one event of a series, in steps and value units.
type Event struct {
	Kind  EventKind
	Start int
	Len   int
	Size  float64
}

// Spec is everything a series holds. Amplitudes and sizes are in value
// units, phases in [0, 1) of their period.
type Spec struct {
	Kind  Kind
	Level float64
	// Daily and Weekly are the amplitudes of the daily (288-step) and
	// weekly (2016-step) sines; Harmonic is the daily second harmonic's
	// amplitude relative to Daily (a sharper business-hours shape).
	Daily, DailyPhase   float64
	Weekly, WeeklyPhase float64
	Harmonic            float64
	// Trend is the change of the level per step.
	Trend float64
	// Noise is the standard deviation of the innovations of AR(1) noise
	// with coefficient AR; TailDF > 0 draws them from a Student t with
	// that many degrees of freedom (scaled to the same deviation), and
	// Hetero > 0 multiplies them by (level / Level)^Hetero.
	Noise, AR, TailDF, Hetero float64
	Events                    []Event
}

// Periods of the seasonalities at 5-minute steps.
const (
	Day  = 288
	Week = 7 * Day
)

// Generate is n steps of spec; the seed draws the noise. The same spec and
// seed give the same values.
func Generate(spec Spec, n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0x6e6f6973)) // "nois"
	// The deterministic part: level, trend, events that move the level.
	base := make([]float64, n)
	noiseMul := make([]float64, n)
	for i := range base {
		t := float64(i)
		d := 2 * math.Pi * (t/Day + spec.DailyPhase)
		w := 2 * math.Pi * (t/Week + spec.WeeklyPhase)
		base[i] = spec.Level + spec.Trend*t +
			spec.Daily*(math.Sin(d)+spec.Harmonic*math.Sin(2*d)) + spec.Weekly*math.Sin(w)
		noiseMul[i] = 1
	}
	for _, e := range spec.Events {
		switch e.Kind {
		case Shift:
			for i := max(e.Start, 0); i < n; i++ {
				base[i] += e.Size
			}
		case Ramp:
			for i := max(e.Start, 0); i < n; i++ {
				f := 1.0
				if k := i - e.Start; k < e.Len {
					f = float64(k+1) / float64(e.Len)
				}
				base[i] += f * e.Size
			}
		case Spike, Burst:
			for i := max(e.Start, 0); i < min(e.Start+e.Len, n); i++ {
				base[i] += e.Size
				if e.Kind == Burst {
					noiseMul[i] = 3
				}
			}
		}
	}
	v := make([]float64, n)
	var ar float64
	for i := range v {
		z := rng.NormFloat64()
		if spec.TailDF > 0 {
			z = studentT(rng, spec.TailDF)
		}
		s := spec.Noise * noiseMul[i]
		if spec.Hetero > 0 && spec.Level > 0 {
			s *= math.Pow(max(base[i], 0.01*spec.Level)/spec.Level, spec.Hetero)
		}
		ar = spec.AR*ar + s*z
		v[i] = base[i] + ar
		switch spec.Kind {
		case Percent:
			v[i] = min(max(v[i], 0), 100)
		case Count:
			v[i] = max(math.Round(v[i]), 0)
		case Positive:
			v[i] = max(v[i], 0)
		}
	}
	for _, e := range spec.Events {
		if e.Kind == Flat && e.Start > 0 {
			for i := e.Start; i < min(e.Start+e.Len, n); i++ {
				v[i] = v[e.Start-1]
			}
		}
	}
	return v
}

// studentT draws a Student t variate with df degrees of freedom, scaled to
// unit variance when df > 2.
func studentT(rng *rand.Rand, df float64) float64 {
	// chi-squared(df) as a sum of a gamma draw: df/2 shape, scale 2.
	chi := 2 * gamma(rng, df/2)
	t := rng.NormFloat64() / math.Sqrt(chi/df)
	if df > 2 {
		t *= math.Sqrt((df - 2) / df)
	}
	return t
}

// gamma draws Gamma(shape, 1) by Marsaglia and Tsang.
func gamma(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return gamma(rng, shape+1) * math.Pow(rng.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

// Random draws the spec of an n-step server series: its kind, level,
// seasonal amplitudes and phases, trend, noise and events, each present
// with its own probability. The same seed gives the same spec.
func Random(n int, seed uint64) Spec {
	rng := rand.New(rand.NewPCG(seed, 0x73706563)) // "spec"
	u := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
	logU := func(lo, hi float64) float64 { return math.Exp(u(math.Log(lo), math.Log(hi))) }
	var s Spec
	switch p := rng.Float64(); {
	case p < 0.5:
		s.Kind, s.Level = Percent, u(2, 70)
	case p < 0.75:
		s.Kind, s.Level = Count, logU(3, 3000)
	default:
		s.Kind, s.Level = Positive, logU(0.1, 1e6)
	}
	L := s.Level
	if rng.Float64() < 0.7 {
		s.Daily, s.DailyPhase, s.Harmonic = L*logU(0.02, 0.6), rng.Float64(), u(0, 0.6)
	}
	if rng.Float64() < 0.35 {
		s.Weekly, s.WeeklyPhase = L*logU(0.02, 0.3), rng.Float64()
	}
	if rng.Float64() < 0.3 {
		s.Trend = L * u(-0.5, 0.5) / float64(max(n, 1))
	}
	s.Noise = L * logU(0.005, 0.3)
	if rng.Float64() < 0.6 {
		s.AR = u(0, 0.95)
		s.Noise *= math.Sqrt(1 - s.AR*s.AR) // the same marginal deviation
	}
	if rng.Float64() < 0.4 {
		s.TailDF = u(2.5, 10)
	}
	if rng.Float64() < 0.3 {
		s.Hetero = u(0.3, 1)
	}
	// Events: a Poisson number of each kind, at uniform places.
	count := func(mean float64) int {
		k, p, l := 0, rng.Float64(), math.Exp(-mean)
		for p > l {
			k++
			p *= rng.Float64()
		}
		return k
	}
	days := float64(n) / Day
	sign := func() float64 {
		if rng.Float64() < 0.5 {
			return -1
		}
		return 1
	}
	add := func(kind EventKind, mean float64, length func() int, size func() float64) {
		for range count(mean) {
			if n < 2 {
				return
			}
			s.Events = append(s.Events, Event{Kind: kind, Start: 1 + rng.IntN(n-1), Len: length(), Size: size()})
		}
	}
	add(Shift, 0.1*days, func() int { return 0 }, func() float64 { return sign() * L * logU(0.1, 1.5) })
	add(Ramp, 0.05*days, func() int { return 10 + rng.IntN(500) }, func() float64 { return sign() * L * logU(0.1, 1.5) })
	add(Spike, 0.3*days*float64(rng.IntN(2)), func() int { return 1 + rng.IntN(3) }, func() float64 { return L * logU(0.2, 5) })
	add(Burst, 0.1*days, func() int { return 5 + rng.IntN(60) }, func() float64 { return L * logU(0.1, 2) })
	add(Flat, 0.03*days, func() int { return 20 + rng.IntN(300) }, func() float64 { return 0 })
	return s
}

// Server is n steps of a random server series of the given seed, and the
// spec that made it.
func Server(n int, seed uint64) ([]float64, Spec) {
	spec := Random(n, seed)
	return Generate(spec, n, seed), spec
}
