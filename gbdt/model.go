package gbdt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// Model is a trained ensemble of regression trees: its prediction is a
// base score plus the leaf each tree routes a row to. It is safe for
// concurrent use.
type Model struct {
	features int
	loss     Loss
	base     float64
	trees    []*tree
	// flat and roots are the trees compiled for prediction (compile).
	flat  []flatNode
	roots []int32
}

// flatNode is a node of the compiled trees, 16 bytes: an inner node sends
// a row to the node at left when its feature is at most threshold, else to
// left+1; a leaf (feature -1) holds its value in threshold. Every tree of a
// model lies in one array, children next to each other, so that predicting
// reads two fifths of the memory of the training nodes (40 bytes each), in
// order.
type flatNode struct {
	threshold float64
	feature   int32
	left      int32
}

// compile lays the trees out in m.flat, each tree breadth-first.
func (m *Model) compile() {
	m.flat, m.roots = nil, make([]int32, len(m.trees))
	for i, t := range m.trees {
		root := len(m.flat)
		m.roots[i] = int32(root)
		m.flat = append(m.flat, flatNode{})
		// queue[k] is the training node placed at root+k.
		queue := []int32{0}
		for k := 0; k < len(queue); k++ {
			nd := &t.nodes[queue[k]]
			if nd.left < 0 {
				m.flat[root+k] = flatNode{threshold: nd.value, feature: -1}
				continue
			}
			c := len(m.flat)
			m.flat = append(m.flat, flatNode{}, flatNode{})
			queue = append(queue, nd.left, nd.right)
			m.flat[root+k] = flatNode{threshold: nd.threshold, feature: nd.feature, left: int32(c)}
		}
	}
}

// evalFlat is the output of the compiled tree at root on one row.
func (m *Model) evalFlat(root int32, x []float64) float64 {
	j := root
	for {
		nd := &m.flat[j]
		if nd.feature < 0 {
			return nd.threshold
		}
		if x[nd.feature] <= nd.threshold {
			j = nd.left
		} else {
			j = nd.left + 1
		}
	}
}

// Features is the number of features a row holds.
func (m *Model) Features() int { return m.features }

// Trees is the number of trees.
func (m *Model) Trees() int { return len(m.trees) }

// Loss is the loss the model was trained with.
func (m *Model) Loss() Loss { return m.loss }

// Predict is the model's output on one row of Features() values. A NaN
// feature takes every split's right branch.
func (m *Model) Predict(x []float64) float64 {
	if len(x) != m.features {
		panic(fmt.Sprintf("gbdt: Predict: row of %d values, model reads %d", len(x), m.features))
	}
	s := m.base
	for _, r := range m.roots {
		s += m.evalFlat(r, x)
	}
	return s
}

// PredictBatch writes the outputs of the n rows of x (row-major, n *
// Features() values) into dst (grown to n when shorter) and returns it.
func (m *Model) PredictBatch(dst, x []float64, n int) []float64 {
	if len(x) != n*m.features {
		panic(fmt.Sprintf("gbdt: PredictBatch: %d values for %d rows of %d", len(x), n, m.features))
	}
	if cap(dst) < n {
		dst = make([]float64, n)
	}
	dst = dst[:n]
	for i := range dst {
		dst[i] = m.base
	}
	// Tree by tree: one tree's nodes stay in cache across the rows.
	for _, r := range m.roots {
		for i := range n {
			dst[i] += m.evalFlat(r, x[i*m.features:(i+1)*m.features])
		}
	}
	return dst
}

// Format and Version identify the encoding; Decode refuses a newer version.
const (
	Format  = "perfpredict.gbdt"
	Version = 1
)

// The encoding is one JSON object; each tree lists its nodes in parallel
// arrays, the root first and every child after its parent. A leaf has
// left = right = -1 and feature -1; an internal node sends x with
// x[feature] <= threshold to left, others (NaN included) to right.
type encModel struct {
	Format   string    `json:"format"`
	Version  int       `json:"version"`
	Features int       `json:"features"`
	Loss     Loss      `json:"loss"`
	Base     float64   `json:"base"`
	Trees    []encTree `json:"trees"`
}

type encTree struct {
	Feature   []int32   `json:"feature"`
	Threshold []float64 `json:"threshold"`
	Left      []int32   `json:"left"`
	Right     []int32   `json:"right"`
	Value     []float64 `json:"value"`
}

// Encode writes the model as JSON to w.
func (m *Model) Encode(w io.Writer) error {
	e := encModel{Format: Format, Version: Version, Features: m.features, Loss: m.loss, Base: m.base,
		Trees: make([]encTree, len(m.trees))}
	for i, t := range m.trees {
		k := len(t.nodes)
		et := encTree{Feature: make([]int32, k), Threshold: make([]float64, k), Left: make([]int32, k),
			Right: make([]int32, k), Value: make([]float64, k)}
		for j, nd := range t.nodes {
			et.Left[j], et.Right[j] = nd.left, nd.right
			if nd.left < 0 {
				et.Feature[j], et.Value[j] = -1, nd.value
			} else {
				et.Feature[j], et.Threshold[j] = nd.feature, nd.threshold
			}
		}
		e.Trees[i] = et
	}
	if err := json.NewEncoder(w).Encode(e); err != nil {
		return fmt.Errorf("gbdt: encode: %w", err)
	}
	return nil
}

// MarshalJSON is Encode's JSON.
func (m *Model) MarshalJSON() ([]byte, error) {
	var b jsonBuf
	if err := m.Encode(&b); err != nil {
		return nil, err
	}
	return b, nil
}

type jsonBuf []byte

func (b *jsonBuf) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// maxFeatures bounds a decoded model's row width.
const maxFeatures = 1 << 20

// Decode reads a model written by Encode. Every error names the field, or
// the tree and node, at fault.
func Decode(data []byte) (*Model, error) {
	var e encModel
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("gbdt: decode: %w", err)
	}
	if e.Format != Format {
		return nil, fmt.Errorf("gbdt: decode: format %q, want %q", e.Format, Format)
	}
	if e.Version < 1 || e.Version > Version {
		return nil, fmt.Errorf("gbdt: decode: version %d; this build reads version %d and older", e.Version, Version)
	}
	if e.Features < 1 || e.Features > maxFeatures {
		return nil, fmt.Errorf("gbdt: decode: features %d: must be in 1..%d", e.Features, maxFeatures)
	}
	if e.Loss != LossL2 && e.Loss != LossL1 && e.Loss != LossQuantile {
		return nil, fmt.Errorf("gbdt: decode: loss %q: unknown", e.Loss)
	}
	if !finite(e.Base) {
		return nil, errors.New("gbdt: decode: base is not finite")
	}
	m := &Model{features: e.Features, loss: e.Loss, base: e.Base, trees: make([]*tree, len(e.Trees))}
	for i, et := range e.Trees {
		t, err := decodeTree(et, e.Features)
		if err != nil {
			return nil, fmt.Errorf("gbdt: decode: tree %d: %w", i+1, err)
		}
		m.trees[i] = t
	}
	m.compile()
	return m, nil
}

// UnmarshalJSON is Decode.
func (m *Model) UnmarshalJSON(data []byte) error {
	d, err := Decode(data)
	if err != nil {
		return err
	}
	*m = *d
	return nil
}

func decodeTree(et encTree, features int) (*tree, error) {
	k := len(et.Feature)
	if k == 0 {
		return nil, errors.New("no nodes")
	}
	if len(et.Threshold) != k || len(et.Left) != k || len(et.Right) != k || len(et.Value) != k {
		return nil, fmt.Errorf("node arrays of lengths %d (feature), %d (threshold), %d (left), %d (right), %d (value) differ",
			k, len(et.Threshold), len(et.Left), len(et.Right), len(et.Value))
	}
	t := &tree{nodes: make([]node, k)}
	parents := make([]int, k)
	for j := range k {
		l, r := et.Left[j], et.Right[j]
		if l < 0 || r < 0 {
			if l != -1 || r != -1 || et.Feature[j] != -1 {
				return nil, fmt.Errorf("node %d: a leaf has left, right and feature -1 (got %d, %d, %d)", j, l, r, et.Feature[j])
			}
			if !finite(et.Value[j]) {
				return nil, fmt.Errorf("node %d: leaf value %v is not finite", j, et.Value[j])
			}
			t.nodes[j] = node{left: -1, right: -1, value: et.Value[j]}
			continue
		}
		// Children after their parent: no cycle, every walk ends.
		if int(l) <= j || int(r) <= j || int(l) >= k || int(r) >= k || l == r {
			return nil, fmt.Errorf("node %d: children %d and %d must be distinct nodes after it (of %d)", j, l, r, k)
		}
		if f := et.Feature[j]; f < 0 || int(f) >= features {
			return nil, fmt.Errorf("node %d: feature %d out of 0..%d", j, f, features-1)
		}
		if math.IsNaN(et.Threshold[j]) {
			return nil, fmt.Errorf("node %d: threshold is NaN", j)
		}
		parents[l]++
		parents[r]++
		t.nodes[j] = node{feature: et.Feature[j], left: l, right: r, threshold: et.Threshold[j]}
	}
	for j := 1; j < k; j++ {
		if parents[j] != 1 {
			return nil, fmt.Errorf("node %d: has %d parents, want 1", j, parents[j])
		}
	}
	return t, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
