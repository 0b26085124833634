package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/attention"
	"github.com/novacron/perfpredict/internal/device"
	_ "github.com/novacron/perfpredict/internal/device/cuda" // registers "cuda" (a stub without -tags cuda)
	"github.com/novacron/perfpredict/internal/nn"
	"github.com/novacron/perfpredict/lstm"
)

// The device benchmarks run the seed architecture (F=30, T=60, 3
// bidirectional layers of 128, attention over 256, head 128/64/32 -> 1) on
// the device PERFPREDICT_DEVICE names (cpu by default; cuda needs -tags
// cuda), entirely through the device.Queue operations, with the input and
// the weights resident on the device as in torch_bench.py. The model itself
// is not routed through the device yet, so this is the device pipeline the
// model would use, with random weights and without dropout:
//
//	BenchmarkDeviceModelPredict  evaluation forward, eager and as a replayed
//	                             graph; compare with torch_bench's inference
//	BenchmarkDeviceModelTrain    one training step at batch 32 (forward,
//	                             MSE on the host, backward, Adam); compare
//	                             with torch_bench's train_seq_per_s
//
// PERFPREDICT_BENCH_BATCHES overrides the batch sizes (default 1,32 on the
// CPU and 1,1024,4096 on another device).

const devFeatures, devSteps, devHidden, devLayers = 30, 60, 128, 3

var devHead = []int{128, 64, 32}

func benchDevice(b *testing.B) device.Device {
	d, err := device.OpenEnv(func(f string, a ...any) { b.Logf(f, a...) })
	if err != nil {
		b.Skipf("PERFPREDICT_DEVICE=%q: %v", os.Getenv("PERFPREDICT_DEVICE"), err)
	}
	return d
}

func benchBatches(b *testing.B, d device.Device) []int {
	spec := os.Getenv("PERFPREDICT_BENCH_BATCHES")
	if spec == "" {
		if d == device.CPU() {
			return []int{1, 32}
		}
		return []int{1, 1024, 4096}
	}
	var out []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("PERFPREDICT_BENCH_BATCHES=%q: %q is not a batch size", spec, f)
		}
		out = append(out, n)
	}
	return out
}

// devParam is one trainable tensor on the device with its Adam moments.
type devParam struct {
	data, grad, m, v device.Buffer
}

// headLayer is Linear -> BatchNorm1d -> ReLU on the device.
type headLayer struct {
	in, out                 int
	w, bias, gamma, beta    devParam
	runMean, runVar         device.Buffer
	scale, shift            device.Buffer // evaluation BatchNorm folded with the bias
	z, y, dy, dz, mean, inv device.Buffer
	dIn                     device.Buffer
	bnArgs                  device.BatchNormArgs
}

// devModel is the seed model's computation on a device.
type devModel struct {
	dev      device.Device
	q        device.Queue
	lstm     *device.LSTM
	att      device.AttentionArgs
	attP     []devParam // proj.weight, proj.bias, score.weight
	head     []*headLayer
	outW     devParam
	outB     devParam
	pred     device.Buffer
	dPred    device.Buffer
	zeros    device.Buffer
	batch    int
	params   []devParam
	lstmOnly []device.Tensor
	step     int64
	bufs     []device.Buffer
}

func (m *devModel) alloc(b *testing.B, n int) device.Buffer {
	buf, err := m.dev.Alloc(n)
	if err != nil {
		b.Fatal(err)
	}
	m.bufs = append(m.bufs, buf)
	return buf
}

func (m *devModel) upload(b *testing.B, v []float32) device.Buffer {
	buf := m.alloc(b, len(v))
	if err := m.q.Upload(buf, v); err != nil {
		b.Fatal(err)
	}
	return buf
}

func (m *devModel) param(b *testing.B, v []float32) devParam {
	p := devParam{data: m.upload(b, v), grad: m.alloc(b, len(v)), m: m.alloc(b, len(v)), v: m.alloc(b, len(v))}
	m.params = append(m.params, p)
	return p
}

func (m *devModel) close() {
	m.lstm.Close()
	for _, buf := range m.bufs {
		m.dev.Free(buf)
	}
}

func newDevModel(b *testing.B, d device.Device, batch int) *devModel {
	rng := rand.New(rand.NewPCG(1, 2))
	m := &devModel{dev: d, q: d.Queue(0), batch: batch}
	st, err := lstm.New(lstm.Config{Input: devFeatures, Hidden: devHidden, Layers: devLayers, Bidirectional: true})
	if err != nil {
		b.Fatal(err)
	}
	st.InitUniform(rng)
	m.lstm, err = device.NewLSTM(d, device.LSTMConfig{Input: devFeatures, Hidden: devHidden, Layers: devLayers, Bidirectional: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := m.lstm.Upload(st.Params()); err != nil {
		b.Fatal(err)
	}
	for _, t := range m.lstm.Tensors() {
		m.params = append(m.params, devParam{data: t.Data, grad: t.Grad, m: m.alloc(b, t.Data.Len()), v: m.alloc(b, t.Data.Len())})
	}
	if err := m.lstm.Prepare(batch, devSteps, batch >= 2); err != nil {
		b.Fatal(err)
	}
	if _, err := m.lstm.Forward(modelInput(7, batch*devSteps*devFeatures), batch, devSteps, false); err != nil {
		b.Fatal(err)
	}
	dim := 2 * devHidden
	att := attention.New(dim)
	att.Init(rng)
	pw, pb, sw := m.param(b, att.ProjW.Data), m.param(b, att.ProjB.Data), m.param(b, att.ScoreW.Data)
	rows := batch * devSteps
	m.att = device.AttentionArgs{Batch: batch, Steps: devSteps, Dim: dim,
		ProjW: pw.data, ProjB: pb.data, ScoreW: sw.data,
		U: m.alloc(b, rows*dim), Weights: m.alloc(b, rows), Context: m.alloc(b, batch*dim),
		DContext: m.alloc(b, batch*dim), DH: m.alloc(b, rows*dim),
		DProjW: pw.grad, DProjB: pb.grad, DScoreW: sw.grad, Scratch: m.alloc(b, rows)}
	in := dim
	m.zeros = m.alloc(b, 256)
	for _, w := range devHead {
		lin := nn.NewLinear("", in, w, true)
		lin.Init(rng)
		l := &headLayer{in: in, out: w}
		l.w, l.bias = m.param(b, lin.Weight.Data), m.param(b, lin.Bias.Data)
		ones := make([]float32, w)
		for i := range ones {
			ones[i] = 1
		}
		l.gamma, l.beta = m.param(b, ones), m.param(b, make([]float32, w))
		l.runMean, l.runVar = m.upload(b, make([]float32, w)), m.upload(b, ones)
		// Evaluation: y = relu((xW^T + b - mean)/sqrt(var+eps)*gamma + beta).
		scale, shift := make([]float32, w), make([]float32, w)
		for j := range scale {
			scale[j] = float32(1 / math.Sqrt(1+1e-5))
			shift[j] = lin.Bias.Data[j] * scale[j]
		}
		l.scale, l.shift = m.upload(b, scale), m.upload(b, shift)
		l.z, l.y, l.dy, l.dz = m.alloc(b, batch*w), m.alloc(b, batch*w), m.alloc(b, batch*w), m.alloc(b, batch*w)
		l.mean, l.inv, l.dIn = m.alloc(b, w), m.alloc(b, w), m.alloc(b, batch*in)
		m.head = append(m.head, l)
		in = w
	}
	lin := nn.NewLinear("", in, 1, true)
	lin.Init(rng)
	m.outW, m.outB = m.param(b, lin.Weight.Data), m.param(b, lin.Bias.Data)
	m.pred, m.dPred = m.alloc(b, batch), m.alloc(b, batch)
	return m
}

// forward enqueues the model's forward pass on the input already in the
// LSTM's Input(); training uses batch statistics and keeps activations.
func (m *devModel) forward(train bool) {
	q, B := m.q, m.batch
	m.lstm.Enqueue()
	m.att.H = m.lstm.Output()
	q.AttentionForward(m.att)
	x := m.att.Context
	for _, l := range m.head {
		q.Gemm(device.GemmArgs{TransB: true, M: B, N: l.out, K: l.in, Alpha: 1, A: x, LDA: l.in, B: l.w.data, LDB: l.in, C: l.z, LDC: l.out})
		if train {
			q.Affine(B, l.out, l.z, l.z, nil, l.bias.data, false)
			l.bnArgs = device.BatchNormArgs{Batch: B, N: l.out, Eps: 1e-5, Momentum: 0.1, X: l.z, Y: l.y,
				Gamma: l.gamma.data, Beta: l.beta.data, RunMean: l.runMean, RunVar: l.runVar, Mean: l.mean, InvStd: l.inv,
				DY: l.dy, DX: l.dz, DGamma: l.gamma.grad, DBeta: l.beta.grad}
			q.BatchNormTrain(l.bnArgs)
			q.Affine(B, l.out, l.y, l.y, nil, m.zeros, true)
		} else {
			q.Affine(B, l.out, l.y, l.z, l.scale, l.shift, true)
		}
		x = l.y
	}
	last := devHead[len(devHead)-1]
	q.Gemm(device.GemmArgs{TransB: true, M: B, N: 1, K: last, Alpha: 1, A: x, LDA: last, B: m.outW.data, LDB: last, C: m.pred, LDC: 1})
	q.Affine(B, 1, m.pred, m.pred, nil, m.outB.data, false)
}

// trainStep runs forward, the MSE gradient on the host, backward and Adam.
func (m *devModel) trainStep(b *testing.B, target []float32) {
	q, B := m.q, m.batch
	for _, p := range m.params {
		q.Fill2D(1, p.grad.Len(), p.grad, p.grad.Len(), 0)
	}
	m.forward(true)
	pred := make([]float32, B)
	if err := q.Download(pred, m.pred); err != nil {
		b.Fatal(err)
	}
	for i := range pred {
		pred[i] = 2 * (pred[i] - target[i]) / float32(B)
	}
	if err := q.Upload(m.dPred, pred); err != nil {
		b.Fatal(err)
	}
	last := m.head[len(m.head)-1]
	q.Gemm(device.GemmArgs{TransA: true, M: 1, N: last.out, K: B, Alpha: 1, Beta: 1, A: m.dPred, LDA: 1, B: last.y, LDB: last.out, C: m.outW.grad, LDC: last.out})
	q.ColumnSum(B, 1, m.outB.grad, 1, m.dPred, 1)
	q.Gemm(device.GemmArgs{M: B, N: last.out, K: 1, Alpha: 1, A: m.dPred, LDA: 1, B: m.outW.data, LDB: last.out, C: last.dy, LDC: last.out})
	for i := len(m.head) - 1; i >= 0; i-- {
		l := m.head[i]
		x := m.att.Context
		dx := m.att.DContext
		if i > 0 {
			x, dx = m.head[i-1].y, m.head[i-1].dy
		}
		q.ReLUBackward(l.dy, l.dy, l.y)
		q.BatchNormBackward(l.bnArgs)
		q.Gemm(device.GemmArgs{TransA: true, M: l.out, N: l.in, K: B, Alpha: 1, Beta: 1, A: l.dz, LDA: l.out, B: x, LDB: l.in, C: l.w.grad, LDC: l.in})
		q.ColumnSum(B, l.out, l.bias.grad, 1, l.dz, l.out)
		q.Gemm(device.GemmArgs{M: B, N: l.in, K: l.out, Alpha: 1, A: l.dz, LDA: l.out, B: l.w.data, LDB: l.in, C: dx, LDC: l.in})
	}
	q.AttentionBackward(m.att)
	m.lstm.Backward(m.att.DH)
	m.step++
	for _, p := range m.params {
		q.Adam(device.AdamArgs{Param: p.data, Grad: p.grad, M: p.m, V: p.v, LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: m.step})
	}
	m.lstm.RefreshBias()
	if err := m.dev.Sync(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkDeviceModelPredict(b *testing.B) {
	d := benchDevice(b)
	b.Logf("device: %s", d.Name())
	for _, batch := range benchBatches(b, d) {
		m := newDevModel(b, d, batch)
		b.Run(fmt.Sprintf("batch=%d/eager", batch), func(b *testing.B) {
			for b.Loop() {
				m.forward(false)
				if err := m.q.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			reportDevRate(b, batch)
		})
		b.Run(fmt.Sprintf("batch=%d/graph", batch), func(b *testing.B) {
			if err := d.BeginCapture(m.q); err != nil {
				b.Fatal(err)
			}
			m.forward(false)
			g, err := d.EndCapture(m.q)
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			for b.Loop() {
				if err := g.Launch(m.q); err != nil {
					b.Fatal(err)
				}
				if err := m.q.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			reportDevRate(b, batch)
		})
		m.close()
	}
}

func BenchmarkDeviceModelTrain(b *testing.B) {
	const batch = 32
	d := benchDevice(b)
	b.Logf("device: %s", d.Name())
	m := newDevModel(b, d, batch)
	defer m.close()
	if _, err := m.lstm.Forward(modelInput(8, batch*devSteps*devFeatures), batch, devSteps, true); err != nil {
		b.Fatal(err)
	}
	target := modelInput(9, batch)
	b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
		for b.Loop() {
			m.trainStep(b, target)
		}
		reportDevRate(b, batch)
	})
}

func reportDevRate(b *testing.B, batch int) {
	s := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(s*1e3, "ms/op")
	b.ReportMetric(float64(batch)/s, "seq/s")
}
