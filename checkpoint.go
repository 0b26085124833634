package perfpredict

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/novacron/perfpredict/internal/safetensors"
)

// Checkpoint format identifiers.
const (
	// Format is the "format" metadata of the reference's checkpoints.
	Format = "perfmodel/1"
	// Version is this library's checkpoint version, saved as
	// "perfpredict.version".
	Version = "1"
)

// Metadata keys. The reference's keys hold plain strings; the library's own
// ("perfpredict." prefix) hold JSON values.
const (
	metaFeatures     = "features"
	metaHidden       = "hidden"
	metaLayers       = "layers"
	metaOutputs      = "outputs"
	metaDropout      = "dropout"
	metaHead         = "head"
	metaFormat       = "format"
	metaVersion      = "perfpredict.version"
	metaFeatureNames = "perfpredict.feature_names"
	metaScaler       = "perfpredict.scaler"
	metaTarget       = "perfpredict.target"
	metaHorizon      = "perfpredict.horizon"
	metaTraining     = "perfpredict.training"
)

// trainingMeta is the part of Config the reference's metadata lacks.
type trainingMeta struct {
	Steps        int     `json:"steps"`
	BatchSize    int     `json:"batch_size"`
	LearningRate float64 `json:"learning_rate"`
	Epochs       int     `json:"epochs"`
	Patience     int     `json:"patience"`
	Seed         uint64  `json:"seed"`
}

// Save writes the model to path as safetensors, atomically (a temporary file
// in the same directory, synced, then renamed over path).
func (m *Model) Save(path string) error {
	ts, meta, err := m.checkpoint()
	if err != nil {
		return err
	}
	if err := safetensors.WriteFile(path, ts, meta); err != nil {
		return fmt.Errorf("perfpredict: saving %s: %w", path, err)
	}
	return nil
}

// Encode writes the checkpoint to w (the bytes Save writes).
func (m *Model) Encode(w io.Writer) error {
	ts, meta, err := m.checkpoint()
	if err != nil {
		return err
	}
	return safetensors.Encode(w, ts, meta)
}

// checkpoint lists the tensors (state_dict names) and the metadata.
func (m *Model) checkpoint() ([]safetensors.Tensor, map[string]string, error) {
	if m.FeatureNames != nil && len(m.FeatureNames) != m.features {
		return nil, nil, fmt.Errorf("perfpredict: %d feature names for %d features", len(m.FeatureNames), m.features)
	}
	if m.Scaler != nil {
		if err := m.Scaler.check(m.outputs); err != nil {
			return nil, nil, err
		}
	}
	if err := m.backend.pull(m); err != nil {
		return nil, nil, err
	}
	ts := make([]safetensors.Tensor, 0, len(m.state)+len(m.bn))
	for _, e := range m.state {
		ts = append(ts, safetensors.Tensor{Name: e.name, Shape: e.p.Shape, F32: e.p.Data})
	}
	for i, bn := range m.bn {
		ts = append(ts, safetensors.Tensor{Name: bnCounterName(i), Shape: []int{}, I64: []int64{bn.NumBatchesTracked}})
	}
	c := m.cfg
	meta := map[string]string{
		metaFeatures: strconv.Itoa(m.features),
		metaHidden:   strconv.Itoa(c.Hidden),
		metaLayers:   strconv.Itoa(c.Layers),
		metaOutputs:  strconv.Itoa(m.outputs),
		metaDropout:  strconv.FormatFloat(float64(c.dropout()), 'g', -1, 32),
		metaHead:     headString(c.Head),
		metaFormat:   Format,
	}
	put := func(key string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			panic("perfpredict: metadata " + key + ": " + err.Error()) // plain data, cannot fail
		}
		meta[key] = string(b)
	}
	put(metaVersion, Version)
	put(metaTraining, trainingMeta{c.Steps, c.BatchSize, c.LearningRate, c.Epochs, c.Patience, c.Seed})
	if m.FeatureNames != nil {
		put(metaFeatureNames, m.FeatureNames)
	}
	if m.Scaler != nil {
		put(metaScaler, m.Scaler)
	}
	if m.Target != "" {
		put(metaTarget, m.Target)
	}
	if m.Horizon != 0 {
		put(metaHorizon, m.Horizon)
	}
	return ts, meta, nil
}

func bnCounterName(i int) string { return "head.bn" + strconv.Itoa(i+1) + ".num_batches_tracked" }

// Load reads a checkpoint written by Save or by the reference.
func Load(path string) (*Model, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("perfpredict: %w", err)
	}
	return fromFile(f, path)
}

// Decode reads a checkpoint from memory; source names it in errors.
func Decode(data []byte, source string) (*Model, error) {
	f, err := safetensors.Parse(data, source)
	if err != nil {
		return nil, fmt.Errorf("perfpredict: %w", err)
	}
	return fromFile(f, source)
}

func fromFile(f *safetensors.File, source string) (*Model, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("perfpredict: checkpoint %s: %s", source, fmt.Sprintf(format, args...))
	}
	md := f.Metadata
	if v, ok := md[metaFormat]; ok && v != Format {
		return nil, bad("format %q, want %q", v, Format)
	}
	intKey := func(key string) (int, error) {
		v, ok := md[key]
		if !ok {
			return 0, bad("metadata %q is missing", key)
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n <= 0 {
			return 0, bad("metadata %s=%q is not a positive integer", key, v)
		}
		return n, nil
	}
	features, err := intKey(metaFeatures)
	if err != nil {
		return nil, err
	}
	outputs, err := intKey(metaOutputs)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if cfg.Hidden, err = intKey(metaHidden); err != nil {
		return nil, err
	}
	if cfg.Layers, err = intKey(metaLayers); err != nil {
		return nil, err
	}
	cfg.Dropout = DefaultDropout
	if v, ok := md[metaDropout]; ok {
		p, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || p < 0 || p >= 1 || math.IsNaN(p) {
			return nil, bad("metadata dropout=%q is not a probability in [0, 1)", v)
		}
		cfg.Dropout = float32(p)
		if p == 0 {
			cfg.Dropout = -1
		}
	}
	if v, ok := md[metaHead]; ok {
		if cfg.Head, err = parseHead(v); err != nil {
			return nil, bad("metadata %v", err)
		}
	}
	jsonKey := func(key string, dst any) error {
		v, ok := md[key]
		if !ok {
			return nil
		}
		if err := json.Unmarshal([]byte(v), dst); err != nil {
			return bad("metadata %s: %v", key, err)
		}
		return nil
	}
	var tm trainingMeta
	if err := jsonKey(metaTraining, &tm); err != nil {
		return nil, err
	}
	cfg.Steps, cfg.BatchSize, cfg.LearningRate = tm.Steps, tm.BatchSize, tm.LearningRate
	cfg.Epochs, cfg.Patience, cfg.Seed = tm.Epochs, tm.Patience, tm.Seed

	// Check the tensors that fix every dimension before allocating anything,
	// so that a corrupt configuration cannot make the model huge.
	full := cfg.withDefaults()
	if err := precheck(f, full, features, outputs); err != nil {
		return nil, bad("%v (metadata: features=%d hidden=%d layers=%d outputs=%d head=%s)", err,
			features, full.Hidden, full.Layers, outputs, headString(full.Head))
	}
	m, err := build(cfg, features, outputs)
	if err != nil {
		return nil, bad("%v", err)
	}
	var version string
	if err := jsonKey(metaVersion, &version); err != nil {
		return nil, err
	}
	if version != "" && version != Version {
		return nil, bad("library checkpoint version %q, this library reads %q", version, Version)
	}
	if err := jsonKey(metaFeatureNames, &m.FeatureNames); err != nil {
		return nil, err
	}
	if m.FeatureNames != nil && len(m.FeatureNames) != features {
		return nil, bad("metadata %s has %d names for %d features", metaFeatureNames, len(m.FeatureNames), features)
	}
	if _, ok := md[metaScaler]; ok {
		m.Scaler = new(TargetScaler)
		if err := jsonKey(metaScaler, m.Scaler); err != nil {
			return nil, err
		}
		if err := m.Scaler.check(outputs); err != nil {
			return nil, bad("metadata %s: %v", metaScaler, err)
		}
	}
	if err := jsonKey(metaTarget, &m.Target); err != nil {
		return nil, err
	}
	if err := jsonKey(metaHorizon, &m.Horizon); err != nil {
		return nil, err
	}

	config := fmt.Sprintf("features=%d hidden=%d layers=%d outputs=%d head=%s", features, m.cfg.Hidden, m.cfg.Layers, outputs, headString(m.cfg.Head))
	known := make(map[string]bool, len(m.state)+len(m.bn))
	for _, e := range m.state {
		known[e.name] = true
		data, shape, err := f.Float32(e.name)
		if err != nil {
			return nil, bad("%v", err)
		}
		if !slices.Equal(shape, e.p.Shape) {
			return nil, bad("tensor %q has shape %v, want %v for %s", e.name, shape, e.p.Shape, config)
		}
		copy(e.p.Data, data)
	}
	m.lstm.WeightsChanged()
	for i, bn := range m.bn {
		name := bnCounterName(i)
		known[name] = true
		v, _, err := f.Int64(name)
		if err != nil {
			return nil, bad("%v", err)
		}
		if len(v) != 1 || v[0] < 0 {
			return nil, bad("tensor %q must hold one non-negative count, has %v", name, v)
		}
		bn.NumBatchesTracked = v[0]
	}
	for _, name := range f.Names() {
		if !known[name] {
			return nil, bad("unexpected tensor %q for %s", name, config)
		}
	}
	// A loaded model usually only predicts: gradient storage (as large as
	// the weights) is allocated again by NewTrainer.
	for _, p := range m.trainable {
		p.ReleaseGrad()
	}
	return m, nil
}

// precheck verifies the shapes of the tensors that determine the model's
// dimensions (first and last LSTM input weights, every head layer).
func precheck(f *safetensors.File, cfg Config, features, outputs int) error {
	want := func(name string, shape ...int) error {
		t, ok := f.Tensor(name)
		if !ok {
			return fmt.Errorf("tensor %q is missing", name)
		}
		if !slices.Equal(t.Shape, shape) {
			return fmt.Errorf("tensor %q has shape %v, want %v", name, t.Shape, shape)
		}
		return nil
	}
	h := cfg.Hidden
	if err := want("lstm.weight_ih_l0", 4*h, features); err != nil {
		return err
	}
	if l := cfg.Layers - 1; l > 0 {
		if err := want("lstm.weight_ih_l"+strconv.Itoa(l), 4*h, 2*h); err != nil {
			return err
		}
	}
	prev := 2 * h
	for i, w := range cfg.Head {
		if err := want("head.fc"+strconv.Itoa(i+1)+".weight", w, prev); err != nil {
			return err
		}
		prev = w
	}
	return want("head.out.weight", outputs, prev)
}
