package lstm

import (
	"math/rand/v2"
	"runtime"
)

// Workspace holds one caller's buffers: activations kept for the backward
// pass, gradients in flight, dropout masks and the random source. A Workspace
// is used by one goroutine at a time; concurrent callers each take their own
// (Stack itself is read-only during Forward and Backward, apart from the
// gradients that Backward accumulates).
type Workspace struct {
	// Serial keeps Forward and Backward on the calling goroutine (and every
	// GEMM serial), for callers that already run one pass per core.
	Serial bool

	stack *Stack
	rng   *rand.Rand

	batch, steps int  // shape of the last Forward
	train        bool // whether the last Forward kept state for Backward
	ready        bool // a Forward has completed

	x       []float32         // copy of the last Forward's input [B, T, F]
	layers  []layerBufs       // [layer]
	dirs    [][]dirBufs       // [layer][direction] in training; eval uses [0]
	bwd     []bwdBufs         // [direction], shared by all layers
	grad    [2][]float32      // ping-pong input gradients of consecutive layers
	dOut    []float32         // during Backward: the gradient of the current layer's output
	zero    []float32         // H zeros: the initial h and c
	weights [][]packedWeights // [layer][direction], packed for the GEMMs
	pool    *pool             // the second direction's goroutine, started on demand

	dropSeeds [][][2]uint64 // [layer][direction]: this pass's dropout stream seeds
	dropSrc   []rand.PCG    // [direction]: the dropout stream being drawn
}

// layerBufs is one layer's output and the dropout applied to it.
type layerBufs struct {
	out     []float32 // [B, T, H*dirs]
	mask    []float32 // [B, T, H*dirs]: 0 or 1/(1-p)
	dropped []float32 // out*mask, the next layer's input when training
}

// dirBufs is what one layer and direction keeps for the backward pass. In a
// compact evaluation pass (see Workspace.compact) it holds one step's rows of
// gates and tanhC and two alternating steps of c instead.
type dirBufs struct {
	gates []float32 // [B, T, 4H]: pre-activations, then activations i, f, g, o
	c     []float32 // [B, T, H] cell states
	tanhC []float32 // [B, T, H]
}

// bwdBufs is one direction's scratch for the backward pass.
type bwdBufs struct {
	dGates []float32 // [B, T, 4H]
	hPrev  []float32 // [B, T, H]: h_{t-1} in processing order, zero first
	dIn    []float32 // [B, T, in] this direction's share of the input gradient
	dh     []float32 // [B, H]
	dc     []float32 // [B, H]
	dBias  []float32 // [4H]
}

// NewWorkspace returns an empty workspace for s; buffers are allocated by the
// first Forward of each larger shape. Dropout draws from a fixed-seed source
// until SetRand replaces it.
func (s *Stack) NewWorkspace() *Workspace {
	ws := &Workspace{stack: s, rng: rand.New(rand.NewPCG(0x5eed, 0x15a))}
	ws.zero = make([]float32, s.cfg.Hidden)
	return ws
}

// SetRand sets the random source of the dropout between layers.
func (ws *Workspace) SetRand(r *rand.Rand) { ws.rng = r }

// grow returns buf resized to n, reallocating only when it is too small.
func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// prepare sizes the buffers for a pass of the given shape.
func (ws *Workspace) prepare(batch, steps int, train bool) {
	s := ws.stack
	cfg := s.cfg
	L, D, H := cfg.Layers, s.dirs, cfg.Hidden
	bt := batch * steps
	if len(ws.layers) != L {
		ws.layers = make([]layerBufs, L)
		ws.dirs = make([][]dirBufs, L)
		for k := range ws.dirs {
			ws.dirs[k] = make([]dirBufs, D)
		}
		ws.bwd = make([]bwdBufs, D)
		ws.dropSeeds = make([][][2]uint64, L)
		for k := range ws.dropSeeds {
			ws.dropSeeds[k] = make([][2]uint64, D)
		}
		ws.dropSrc = make([]rand.PCG, D)
		ws.weights = make([][]packedWeights, L)
		for k := range ws.weights {
			ws.weights[k] = make([]packedWeights, D)
		}
		ws.dropSeeds = make([][][2]uint64, L)
		for k := range ws.dropSeeds {
			ws.dropSeeds[k] = make([][2]uint64, D)
		}
		ws.dropSrc = make([]rand.PCG, D)
		ws.weights = make([][]packedWeights, L)
		for k := range ws.weights {
			ws.weights[k] = make([]packedWeights, D)
		}
	}
	dropout := train && cfg.Dropout > 0
	ws.x = grow(ws.x, bt*cfg.Input)
	for k := range ws.layers {
		lb := &ws.layers[k]
		lb.out = grow(lb.out, bt*D*H)
		if dropout && k < L-1 {
			lb.mask = grow(lb.mask, bt*D*H)
			lb.dropped = grow(lb.dropped, bt*D*H)
		}
	}
	ws.batch, ws.steps, ws.train = batch, steps, train
	sets, gRows, cRows := L, bt, bt
	if !train {
		sets = 1
	}
	if ws.compact() {
		gRows, cRows = batch, 2*batch
	}
	for k := 0; k < sets; k++ {
		for d := range ws.dirs[k] {
			db := &ws.dirs[k][d]
			db.gates = grow(db.gates, gRows*4*H)
			db.c = grow(db.c, cRows*H)
			db.tanhC = grow(db.tanhC, cRows*H)
		}
	}
}

// prepareBackward sizes the backward scratch for the last Forward's shape.
func (ws *Workspace) prepareBackward() {
	s := ws.stack
	H, D := s.cfg.Hidden, s.dirs
	bt := ws.batch * ws.steps
	widest := max(s.cfg.Input, D*H)
	for d := range ws.bwd {
		bw := &ws.bwd[d]
		bw.dGates = grow(bw.dGates, bt*4*H)
		bw.hPrev = grow(bw.hPrev, bt*H)
		bw.dIn = grow(bw.dIn, bt*widest)
		bw.dh = grow(bw.dh, ws.batch*H)
		bw.dc = grow(bw.dc, ws.batch*H)
		bw.dBias = grow(bw.dBias, 4*H)
	}
	for i := range ws.grad {
		ws.grad[i] = grow(ws.grad[i], bt*widest)
	}
}

// job asks the helper goroutine to run one direction of one layer.
type job struct {
	ws       *Workspace
	layer    int
	backward bool
}

// pool is the helper goroutine that runs the reverse direction while the
// caller runs the forward one. It holds no reference to the Workspace between
// jobs, so a dropped Workspace is collected and its cleanup stops the
// goroutine.
type pool struct {
	jobs chan job
	done chan struct{}
}

func (p *pool) loop() {
	for j := range p.jobs {
		j.ws.runDir(j.layer, 1, j.backward, true)
		p.done <- struct{}{}
	}
}

// parallel reports whether a layer's two directions should run concurrently:
// both directions exist, the caller allows it, there is a second core, and
// the work outweighs the hand-off (a few microseconds).
func (ws *Workspace) parallel(layer int) bool {
	s := ws.stack
	if ws.Serial || s.dirs < 2 || runtime.GOMAXPROCS(0) < 2 {
		return false
	}
	c := s.cells[layer][0]
	flops := ws.batch * ws.steps * 4 * s.cfg.Hidden * (c.in + s.cfg.Hidden)
	return flops >= 1<<16
}

// bothDirs runs every direction of one layer, concurrently when worthwhile.
func (ws *Workspace) bothDirs(layer int, backward bool) {
	if ws.parallel(layer) {
		if ws.pool == nil {
			p := &pool{jobs: make(chan job), done: make(chan struct{})}
			ws.pool = p
			go p.loop()
			runtime.AddCleanup(ws, func(p *pool) { close(p.jobs) }, p)
		}
		ws.pool.jobs <- job{ws: ws, layer: layer, backward: backward}
		ws.runDir(layer, 0, backward, true)
		<-ws.pool.done
		return
	}
	for d := 0; d < ws.stack.dirs; d++ {
		ws.runDir(layer, d, backward, ws.Serial || ws.stack.dirs > 1)
	}
}

// runDir runs one direction; serialGemm keeps its GEMMs on this goroutine
// (always so when directions share the cores, so that the serial and the
// parallel paths compute bit-identical results).
func (ws *Workspace) runDir(layer, d int, backward, serialGemm bool) {
	g := gemmParallel
	if serialGemm {
		g = gemmSerial
	}
	if backward {
		ws.backwardDir(layer, d, g)
	} else {
		ws.forwardDir(layer, d, g)
	}
}
