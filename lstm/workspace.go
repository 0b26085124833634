package lstm

import (
	"math/rand/v2"
	"runtime"

	"github.com/novacron/perfpredict/asm"
)

// DefaultKeepLayers is the number of layers whose gate activations a
// training Forward keeps when Workspace.KeepLayers is 0.
const DefaultKeepLayers = 2

// Workspace holds one caller's buffers: activations kept for the backward
// pass, gradients in flight, dropout masks and the random source. A Workspace
// is used by one goroutine at a time; concurrent callers each take their own
// (Stack itself is read-only during Forward and Backward, apart from the
// gradients that Backward accumulates and its packed weights, which it
// guards).
//
// Memory in training, per layer and direction: the gate activations
// [B, T, 4H] and cell states [B, T, H] of the top KeepLayers layers (the
// layers below are recomputed by Backward in the buffers of the layers above,
// which it has finished with), and per layer its output [B, T, H*dirs] and a
// dropout bit mask. Backward writes the gates' gradients over the gate
// activations, so a training Forward supports one Backward.
type Workspace struct {
	// Serial keeps Forward and Backward on the calling goroutine (and every
	// GEMM serial), for callers that already run one pass per core.
	Serial bool

	// KeepLayers is how many layers, counted from the top, keep the gate
	// activations of a training Forward for Backward; Backward recomputes
	// those of the layers below (one more forward pass through them) in the
	// buffers of the layers above. Fewer kept layers hold less memory (at
	// the default model's shape and batch 32 each is 9.4 MiB) and cost more time
	// (there, one recomputed layer adds about 3% to a training step). 0
	// means DefaultKeepLayers; values above the number of layers mean all.
	// The gradients do not depend on it beyond rounding (a recomputed gate
	// may differ from Forward's in the last bit); for a given setting they
	// are deterministic.
	KeepLayers int

	// ParamGradsOnly makes Backward skip the gradient of the stack's input
	// (it returns nil), for a trainer that needs only the parameter
	// gradients: for the first layer that product is as large as a
	// layer's weight gradient and nothing reads it.
	ParamGradsOnly bool

	stack *Stack
	rng   *rand.Rand

	batch, steps int  // shape of the last Forward
	train        bool // whether the last Forward kept state for Backward
	ready        bool // a training Forward's state is there for Backward
	keep         int  // gate buffer sets of the last training Forward

	x       []float32    // copy of the last Forward's input [B, T, F]
	out     [][]float32  // [layer] outputs [B, T, H*dirs]; evaluation alternates [0] and [1]
	masks   [][][]uint64 // [layer][direction] dropout bits, [B*T rows][maskWords(H)]: 1 keeps
	dropped []float32    // [B, T, H*dirs]: the dropped-out output of layer droppedOf
	slots   [][]dirBufs  // [set][direction]: gates and cell states (see slot)
	scratch []dirScratch // [direction]
	grad    []float32    // [B, T, max(F, H*dirs)]: during Backward the gradient of a layer's output, then of its input
	dOut    []float32    // during Backward: the gradient of the current layer's output
	zero    []float32    // H zeros: the initial h and c
	pool    *pool        // the second direction's goroutine, started on demand
	doneBwd bool         // Backward consumed the training state

	droppedOf int // layer whose dropped-out output is in dropped; -1 none

	prec Precision // this pass's products: FP32 in training, else the Stack's
	inB  []uint16  // [B*T, even(in)]: the current layer's input in bf16
	inQ  []uint8   // [B*T, quads(in)]: the same quantized to bytes, in int8
	inS  []float32 // [B*T]: their scales

	dropSeeds [][]uint64 // [layer][direction]: this pass's dropout stream seeds
}

// dirBufs is one set of a direction's gate activations and cell states. In
// a compact evaluation pass (see Workspace.compact) it holds one step's rows
// of gates and two alternating steps of c instead of [B, T, ...].
type dirBufs struct {
	gates []float32 // [B, T, 4H] or [T, B, 4H]: pre-activations, then activations i, f, g, o; in Backward their gradients
	c     []float32 // [B, T, H] or [T, B, H] cell states
	// timeMajor says gates and c are [T, B, ...]: a training Forward
	// at a stepwise batch writes them so, that each time step's rows are
	// contiguous for the cell kernels and the per-step products (in
	// [B, T, ...] they are T rows apart, each on its own page, which the
	// hardware prefetchers do not follow).
	timeMajor bool
	// spare receives the gate gradients in [B, T, 4H] order at the end of a
	// time-major backward pass (then trades places with gates), for the
	// products over all rows that pair them with the layer's input and
	// output rows.
	spare []float32
}

// dirScratch is one direction's small per-pass scratch.
type dirScratch struct {
	tanhC []float32 // [H]: tanh of one row of cell states
	h     []float32 // [H]: a recomputed row of outputs (discarded)
	dh    []float32 // [B, H]
	dc    []float32 // [B, H]
	dBias []float32 // [4H]
	first []float32 // [B, 4H]: the gates (or their gradients) of the first processed step, set aside
	hB    []uint16  // [B, even(H)]: h_{t-1} in bf16, in a bf16 pass
	hQ    []uint8   // [B, quads(H)]: h_{t-1} quantized, in an int8 pass
	hS    []float32 // [B]: their scales
	tS    []float32 // [B]: the scales of one time step's input rows, in an int8 pass
}

// maskWords is the number of uint64 words of one row's dropout bits.
func maskWords(h int) int { return (h + 63) / 64 }

// NewWorkspace returns an empty workspace for s; buffers are allocated by the
// first Forward of each larger shape. Dropout draws from a fixed-seed source
// until SetRand replaces it.
func (s *Stack) NewWorkspace() *Workspace {
	ws := &Workspace{stack: s, rng: rand.New(rand.NewPCG(0x5eed, 0x15a)), droppedOf: -1}
	ws.zero = make([]float32, s.cfg.Hidden)
	return ws
}

// SetRand sets the random source of the dropout between layers.
func (ws *Workspace) SetRand(r *rand.Rand) { ws.rng = r }

// Bytes is the memory held by the workspace's buffers (not counting the
// stack's packed weights, see Stack.PackedBytes, nor its parameters).
func (ws *Workspace) Bytes() int {
	n := cap(ws.x) + cap(ws.dropped) + cap(ws.grad) + cap(ws.zero)
	for _, o := range ws.out {
		n += cap(o)
	}
	for _, set := range ws.slots {
		for _, db := range set {
			n += cap(db.gates) + cap(db.c) + cap(db.spare)
		}
	}
	for _, sc := range ws.scratch {
		n += cap(sc.tanhC) + cap(sc.h) + cap(sc.dh) + cap(sc.dc) + cap(sc.dBias) + cap(sc.first) + (cap(sc.hB)+1)/2 + (cap(sc.hQ)+3)/4 + cap(sc.hS) + cap(sc.tS)
	}
	n += (cap(ws.inB)+1)/2 + (cap(ws.inQ)+3)/4 + cap(ws.inS)
	n *= 4
	for _, layer := range ws.masks {
		for _, m := range layer {
			n += 8 * cap(m)
		}
	}
	return n
}

// grow returns buf resized to n, reallocating only when it is too small.
func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// keepLayers is the number of gate buffer sets a training pass uses.
func (ws *Workspace) keepLayers() int {
	k := ws.KeepLayers
	if k <= 0 {
		k = DefaultKeepLayers
	}
	return min(k, len(ws.stack.cells))
}

// slot is the gate buffer set of layer k in the current pass: layer k mod
// keep in training (a layer below the top keep ones finds its set taken by a
// layer above and is recomputed), the one set in evaluation.
func (ws *Workspace) slot(k, d int) *dirBufs {
	if !ws.train {
		return &ws.slots[0][d]
	}
	return &ws.slots[k%ws.keep][d]
}

// kept reports whether layer k's gates are still in its set after a training
// Forward.
func (ws *Workspace) kept(k int) bool { return k >= len(ws.stack.cells)-ws.keep }

// output is layer k's output buffer in the current pass: its own in
// training (Backward reads them all), alternating in evaluation (layer k
// only reads layer k-1's).
func (ws *Workspace) output(k int) []float32 {
	if !ws.train {
		k %= 2
	}
	return ws.out[k]
}

// prepare sizes the buffers for a pass of the given shape.
func (ws *Workspace) prepare(batch, steps int, train bool) {
	s := ws.stack
	cfg := s.cfg
	L, D, H := cfg.Layers, s.dirs, cfg.Hidden
	bt := batch * steps
	if len(ws.out) != L {
		ws.out = make([][]float32, L)
		ws.masks = make([][][]uint64, L)
		for k := range ws.masks {
			ws.masks[k] = make([][]uint64, D)
		}
		ws.scratch = make([]dirScratch, D)
		ws.dropSeeds = make([][]uint64, L)
		for k := range ws.dropSeeds {
			ws.dropSeeds[k] = make([]uint64, D)
		}
	}
	ws.batch, ws.steps, ws.train = batch, steps, train
	ws.droppedOf = -1
	ws.x = grow(ws.x, bt*cfg.Input)
	outs := L
	if !train {
		outs = min(L, 2)
	}
	for k := 0; k < outs; k++ {
		ws.out[k] = grow(ws.out[k], bt*D*H)
	}
	if ws.dropping() && L > 1 {
		ws.dropped = grow(ws.dropped, bt*D*H)
		for k := 0; k < L-1; k++ {
			for d := range ws.masks[k] {
				n := bt * maskWords(H)
				if cap(ws.masks[k][d]) < n {
					ws.masks[k][d] = make([]uint64, n)
				}
				ws.masks[k][d] = ws.masks[k][d][:n]
			}
		}
	}
	sets, gRows, cRows := 1, bt, bt
	if train {
		ws.keep = ws.keepLayers()
		sets = ws.keep
	}
	if ws.compact() {
		gRows, cRows = batch, 2*batch
	}
	for len(ws.slots) < sets {
		ws.slots = append(ws.slots, make([]dirBufs, D))
	}
	for k := 0; k < sets; k++ {
		for d := range ws.slots[k] {
			db := &ws.slots[k][d]
			db.gates = grow(db.gates, gRows*4*H)
			db.c = grow(db.c, cRows*H)
		}
	}
	for d := range ws.scratch {
		ws.scratch[d].tanhC = grow(ws.scratch[d].tanhC, H)
		ws.scratch[d].h = grow(ws.scratch[d].h, H)
	}
}

// prepareBackward sizes the backward scratch for the last Forward's shape.
func (ws *Workspace) prepareBackward() {
	s := ws.stack
	H, D := s.cfg.Hidden, s.dirs
	B := ws.batch
	bt := B * ws.steps
	for d := range ws.scratch {
		sc := &ws.scratch[d]
		sc.dh = grow(sc.dh, B*H)
		sc.dc = grow(sc.dc, B*H)
		sc.dBias = grow(sc.dBias, 4*H)
		sc.first = grow(sc.first, B*4*H)
	}
	for _, set := range ws.slots[:ws.keep] {
		for d := range set {
			if set[d].timeMajor {
				set[d].spare = grow(set[d].spare, bt*4*H)
			}
		}
	}
	ws.grad = grow(ws.grad, bt*max(s.cfg.Input, D*H))
}

// jobKind is the work a pool job does.
type jobKind uint8

const (
	jobForward   jobKind = iota // one direction of a layer, forward
	jobRecompute                // the same, in Backward, for a layer whose gates were not kept
	jobBackward                 // one direction of a layer, backward through time
	jobDropout                  // rows [lo, hi) of the dropped-out output of a layer
	jobInputGrad                // rows [lo, hi) of a layer's input gradient
)

// job asks a goroutine to run part of a layer's work.
type job struct {
	ws     *Workspace
	kind   jobKind
	layer  int
	d      int // direction, for the per-direction kinds
	lo, hi int // rows, for the row-split kinds
}

// pool is the helper goroutine that runs the reverse direction (or the second
// half of the rows) while the caller runs the forward one. It holds no
// reference to the Workspace between jobs, so a dropped Workspace is
// collected and its cleanup stops the goroutine.
type pool struct {
	jobs chan job
	done chan struct{}
}

func (p *pool) loop() {
	for j := range p.jobs {
		j.ws.run(j, true)
		p.done <- struct{}{}
	}
}

// run does one job; serialGemm keeps its GEMMs on this goroutine (always so
// when the two halves of a job share the cores, so that the serial and the
// parallel paths compute bit-identical results).
func (ws *Workspace) run(j job, serialGemm bool) {
	g := gemmParallel
	if serialGemm {
		g = gemmSerial
	}
	switch j.kind {
	case jobForward:
		ws.forwardDir(j.layer, j.d, g) // bf16 and int8 products do not use g
	case jobRecompute:
		ws.recomputeDir(j.layer, j.d, g)
	case jobBackward:
		ws.backwardDir(j.layer, j.d, g)
	case jobDropout:
		ws.dropoutRows(j.layer, j.lo, j.hi)
	case jobInputGrad:
		ws.inputGradRows(j.layer, j.lo, j.hi, g)
	}
}

// parallel reports whether a layer's work should be split over two
// goroutines: both directions exist, the caller allows it, there is a second
// core, and the work outweighs the hand-off (a few microseconds).
func (ws *Workspace) parallel(layer int) bool {
	s := ws.stack
	if ws.Serial || s.dirs < 2 || runtime.GOMAXPROCS(0) < 2 {
		return false
	}
	c := s.cells[layer][0]
	flops := ws.batch * ws.steps * 4 * s.cfg.Hidden * (c.in + s.cfg.Hidden)
	return flops >= 1<<16
}

// startPool starts the helper goroutine on first use.
func (ws *Workspace) startPool() *pool {
	if ws.pool == nil {
		p := &pool{jobs: make(chan job), done: make(chan struct{})}
		ws.pool = p
		go p.loop()
		runtime.AddCleanup(ws, func(p *pool) { close(p.jobs) }, p)
	}
	return ws.pool
}

// bothDirs runs every direction of one layer (kind jobForward, jobRecompute
// or jobBackward), concurrently when worthwhile.
func (ws *Workspace) bothDirs(layer int, kind jobKind) {
	if ws.parallel(layer) {
		p := ws.startPool()
		p.jobs <- job{ws: ws, kind: kind, layer: layer, d: 1}
		ws.run(job{kind: kind, layer: layer, d: 0}, true)
		<-p.done
		return
	}
	for d := 0; d < ws.stack.dirs; d++ {
		ws.run(job{kind: kind, layer: layer, d: d}, ws.Serial || ws.stack.dirs > 1)
	}
}

// splitRows runs a row-split job (jobDropout or jobInputGrad) over the
// B*T rows, in two halves on two goroutines when the layer's directions run
// concurrently. The halves split at a multiple of the GEMM micro-tile's
// rows, so that each row goes through the same micro-kernel calls as in one
// product over all rows: the results do not depend on the split.
func (ws *Workspace) splitRows(layer int, kind jobKind) {
	rows := ws.batch * ws.steps
	mr, _ := asm.GemmTile()
	half := rows / 2 / mr * mr
	if ws.parallel(layer) && half > 0 {
		p := ws.startPool()
		p.jobs <- job{ws: ws, kind: kind, layer: layer, lo: half, hi: rows}
		ws.run(job{kind: kind, layer: layer, lo: 0, hi: half}, true)
		<-p.done
		return
	}
	ws.run(job{kind: kind, layer: layer, lo: 0, hi: rows}, ws.Serial || ws.stack.dirs > 1)
}
