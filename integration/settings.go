package integration

import (
	"fmt"
	"slices"
	"time"
)

// HDEEngine is the HDE v3 compression engine's tuning surface.
type HDEEngine interface {
	SetCompressionLevel(level int) error
	SetChunkSize(bytes int) error
}

// PBAEngine is the PBA v3 bandwidth predictor's tuning surface.
type PBAEngine interface {
	// SetPredictionWindow sets how many bandwidth measurements the estimate
	// averages.
	SetPredictionWindow(samples int) error
	// SetConfidenceThreshold sets the confidence with which the sending rate
	// must not exceed the available bandwidth (0.5: the mean estimate).
	SetConfidenceThreshold(confidence float64) error
}

// ACPEngine is the ACP v3 consensus engine's tuning surface.
type ACPEngine interface {
	SetTimeout(timeout time.Duration) error
	SetBatchSize(entries int) error
}

// HDESettings are the HDE engine's settings.
type HDESettings struct {
	CompressionLevel int `json:"compression_level"` // 0 (none) .. 9
	ChunkSize        int `json:"chunk_size"`        // bytes
}

// PBASettings are the PBA engine's settings.
type PBASettings struct {
	WindowSize int     `json:"window_size"` // bandwidth measurements averaged
	Confidence float64 `json:"confidence"`  // in [0.5, 1)
}

// ACPSettings are the ACP engine's settings.
type ACPSettings struct {
	TimeoutMs float64 `json:"timeout_ms"`
	BatchSize int     `json:"batch_size"`
}

// The settings grids the tuners search; engines should accept every value.
// Each tuner reads these, never a caller's copy, so no caller can change the
// grid of every tuner in the process.
var (
	hdeLevels     = []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	hdeChunkSizes = []float64{4 << 10, 8 << 10, 16 << 10, 32 << 10, 64 << 10, 128 << 10, 256 << 10}
	pbaWindows    = []float64{1, 2, 4, 8, 16, 32, 64}
	pbaConfidence = []float64{0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99}
	acpTimeoutsMs = []float64{5, 10, 15, 20, 30, 50, 75, 100, 150, 200}
	acpBatchSizes = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}
)

// HDELevels returns the compression levels the HDE tuner searches (a copy).
func HDELevels() []float64 { return slices.Clone(hdeLevels) }

// HDEChunkSizes returns the chunk sizes in bytes the HDE tuner searches (a copy).
func HDEChunkSizes() []float64 { return slices.Clone(hdeChunkSizes) }

// PBAWindows returns the prediction windows in samples the PBA tuner
// searches (a copy).
func PBAWindows() []float64 { return slices.Clone(pbaWindows) }

// PBAConfidence returns the confidence thresholds the PBA tuner searches (a copy).
func PBAConfidence() []float64 { return slices.Clone(pbaConfidence) }

// ACPTimeoutsMs returns the consensus timeouts in milliseconds the ACP
// tuner searches (a copy).
func ACPTimeoutsMs() []float64 { return slices.Clone(acpTimeoutsMs) }

// ACPBatchSizes returns the batch sizes the ACP tuner searches (a copy).
func ACPBatchSizes() []float64 { return slices.Clone(acpBatchSizes) }

// Static defaults an operator would ship without tuning: zstd's default level
// with 64 KiB chunks, a 16-sample window at 90% confidence, and a 50 ms
// consensus timeout with batches of up to 32 entries. Functions rather than
// variables, so the defaults are the same for every caller.

// DefaultHDE returns the HDE engine's untuned settings.
func DefaultHDE() HDESettings { return HDESettings{CompressionLevel: 3, ChunkSize: 64 << 10} }

// DefaultPBA returns the PBA engine's untuned settings.
func DefaultPBA() PBASettings { return PBASettings{WindowSize: 16, Confidence: 0.9} }

// DefaultACP returns the ACP engine's untuned settings.
func DefaultACP() ACPSettings { return ACPSettings{TimeoutMs: 50, BatchSize: 32} }

// ValidateHDE reports a setting outside the engine's range.
func ValidateHDE(s HDESettings) error {
	if s.CompressionLevel < 0 || s.CompressionLevel > 9 {
		return fmt.Errorf("integration: compression level %d outside [0,9]", s.CompressionLevel)
	}
	if s.ChunkSize < 1<<10 || s.ChunkSize > 16<<20 {
		return fmt.Errorf("integration: chunk size %d outside [1 KiB, 16 MiB]", s.ChunkSize)
	}
	return nil
}

// ValidatePBA reports a setting outside the engine's range.
func ValidatePBA(s PBASettings) error {
	if s.WindowSize < 1 || s.WindowSize > 1024 {
		return fmt.Errorf("integration: prediction window %d outside [1,1024]", s.WindowSize)
	}
	if !(s.Confidence >= 0.5 && s.Confidence < 1) {
		return fmt.Errorf("integration: confidence %v outside [0.5,1)", s.Confidence)
	}
	return nil
}

// ValidateACP reports a setting outside the engine's range.
func ValidateACP(s ACPSettings) error {
	if !(s.TimeoutMs >= 1 && s.TimeoutMs <= 60000) {
		return fmt.Errorf("integration: timeout %v ms outside [1, 60000]", s.TimeoutMs)
	}
	if s.BatchSize < 1 || s.BatchSize > 65536 {
		return fmt.Errorf("integration: batch size %d outside [1, 65536]", s.BatchSize)
	}
	return nil
}
