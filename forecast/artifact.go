package forecast

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	perfpredict "github.com/novacron/perfpredict"
)

// The artifact is one zip file (every entry checksummed by zip's CRC-32):
//
//	manifest.json                format, version, recipe, calibration, info
//	member-1.safetensors, ...    the networks, as perfpredict checkpoints
//	trees.json                   the tree models, when the recipe has them
//	switch-trees.json            a Switch's tree models, when it has them
//
// Each member is a checkpoint the PyTorch reference also loads.

// ArtifactFormat and ArtifactVersion identify the artifact; Open refuses a
// newer version than it reads. Version 2 adds the trees; version 3 the
// calibration's scale (Calibration.Scale), which changes what q10 and q90
// mean, so that a build that would read them in the unit refuses them. An
// artifact is written with the oldest version that holds what it has:
// one without trees calibrated in the unit is version 1, which older
// builds read; older artifacts load and serve as they did. Version 4 adds
// the switch's trees, which change what a Switch over the forecaster
// serves, so that an older build, which would serve a switch of two
// forecasters, refuses them.
const (
	ArtifactFormat  = "perfpredict.forecaster"
	ArtifactVersion = 4
)

const manifestName = "manifest.json"

type manifest struct {
	Format      string      `json:"format"`
	Version     int         `json:"version"`
	Recipe      Recipe      `json:"recipe"`
	Members     []string    `json:"members"` // entry names, in order
	Calibration Calibration `json:"calibration"`
	Info        Info        `json:"info"`
	// Trees are the tree models' entry, feature set, horizons and weights.
	Trees *treesManifest `json:"trees,omitempty"`
	// SwitchTrees are the switch's tree models' entry, feature set and
	// horizons.
	SwitchTrees *treesManifest `json:"switch_trees,omitempty"`
}

func memberEntry(i int) string { return "member-" + strconv.Itoa(i+1) + ".safetensors" }

// Encode writes the artifact to w.
func (fc *Forecaster) Encode(w io.Writer) error {
	zw := zip.NewWriter(w)
	man := manifest{Format: ArtifactFormat, Version: 1, Recipe: fc.recipe,
		Calibration: fc.calib, Info: fc.info}
	var trees []byte
	if fc.trees != nil {
		man.Version, man.Trees = 2, fc.trees.manifest(blendedTreeKind)
		var err error
		if trees, err = fc.trees.encode(); err != nil {
			return fmt.Errorf("forecast: trees: %w", err)
		}
	}
	if fc.calib.Scale != "" {
		man.Version = 3
	}
	var switchTrees []byte
	if fc.switchTrees != nil {
		man.Version = 4
		man.SwitchTrees = fc.switchTrees.manifest(switchTreeKind)
		var err error
		if switchTrees, err = fc.switchTrees.encode(); err != nil {
			return fmt.Errorf("forecast: switch trees: %w", err)
		}
	}
	for i := range fc.members {
		man.Members = append(man.Members, memberEntry(i))
	}
	mw, err := zw.Create(manifestName)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(mw)
	enc.SetIndent("", "  ")
	if err := enc.Encode(man); err != nil {
		return fmt.Errorf("forecast: manifest: %w", err)
	}
	for i, m := range fc.members {
		ew, err := zw.Create(memberEntry(i))
		if err != nil {
			return err
		}
		if err := m.Encode(ew); err != nil {
			return fmt.Errorf("forecast: network %d: %w", i+1, err)
		}
	}
	for _, e := range []struct {
		name string
		data []byte
	}{{treesEntry, trees}, {switchTreesEntry, switchTrees}} {
		if e.data == nil {
			continue
		}
		tw, err := zw.Create(e.name)
		if err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// Save writes the artifact to path atomically: a temporary file in the
// same directory, synced, then renamed over path, so a crash leaves the
// old artifact or the new one, never a torn file.
func (fc *Forecaster) Save(path string) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("forecast: saving %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("forecast: saving %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := fc.Encode(tmp); err != nil {
		return fmt.Errorf("forecast: saving %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("forecast: saving %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("forecast: saving %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("forecast: saving %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Open reads an artifact written by Save.
func Open(path string) (*Forecaster, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("forecast: %w", err)
	}
	return Decode(data, path)
}

// Decode reads an artifact from memory; source names it in errors. Every
// error names the source and the part at fault.
func Decode(data []byte, source string) (*Forecaster, error) {
	bad := func(part string, err error) error {
		return badInput(fmt.Errorf("forecast: %s: %s: %w", source, part, err))
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, bad("not a forecaster artifact (a zip with "+manifestName+")", err)
	}
	entries := map[string]*zip.File{}
	for _, f := range zr.File {
		entries[f.Name] = f
	}
	read := func(name string) ([]byte, error) {
		f, ok := entries[name]
		if !ok {
			return nil, bad(name, errors.New("missing"))
		}
		rc, err := f.Open()
		if err != nil {
			return nil, bad(name, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, 1<<30))
		if err != nil {
			return nil, bad(name, err) // zip.ErrChecksum: corrupt
		}
		return b, nil
	}
	mb, err := read(manifestName)
	if err != nil {
		return nil, err
	}
	var man manifest
	if err := json.Unmarshal(mb, &man); err != nil {
		return nil, bad(manifestName, err)
	}
	if man.Format != ArtifactFormat {
		return nil, bad(manifestName, fmt.Errorf("format %q, want %q", man.Format, ArtifactFormat))
	}
	if man.Version > ArtifactVersion || man.Version < 1 {
		return nil, bad(manifestName, fmt.Errorf("format version %d; this build reads version %d and older (upgrade perfpredict)", man.Version, ArtifactVersion))
	}
	r := man.Recipe
	if err := r.check(); err != nil {
		return nil, bad(manifestName, fmt.Errorf("recipe: %w", err))
	}
	K := r.Horizon
	c := man.Calibration
	if len(c.Q10) != K || len(c.Q90) != K || len(c.N) != K {
		return nil, bad(manifestName, fmt.Errorf("calibration holds %d/%d/%d horizons, want %d", len(c.Q10), len(c.Q90), len(c.N), K))
	}
	if c.Scale != "" && c.Scale != ScaleSpread {
		return nil, bad(manifestName, fmt.Errorf("calibration scale %q, want %q or none", c.Scale, ScaleSpread))
	}
	for k := range K {
		if !finite(c.Q10[k]) || !finite(c.Q90[k]) || c.Q10[k] > c.Q90[k] {
			return nil, bad(manifestName, fmt.Errorf("calibration at h=%d: q10 %g, q90 %g", k+1, c.Q10[k], c.Q90[k]))
		}
	}
	if len(man.Members) == 0 {
		return nil, bad(manifestName, errors.New("lists no networks"))
	}
	fc := &Forecaster{recipe: r, calib: c, info: man.Info}
	for i, name := range man.Members {
		b, err := read(name)
		if err != nil {
			return nil, err
		}
		m, err := perfpredict.Decode(b, source+":"+name)
		if err != nil {
			return nil, bad(name, err)
		}
		if m.Features() != len(r.Inputs) || m.Outputs() != K || m.Target != memberTarget {
			return nil, bad(name, fmt.Errorf("network %d reads %d inputs and forecasts %d outputs of %q; the recipe wants %d, %d of %q",
				i+1, m.Features(), m.Outputs(), m.Target, len(r.Inputs), K, memberTarget))
		}
		fc.members = append(fc.members, m)
	}
	// Each kind of trees: its entry, checked against the recipe.
	decode := func(k treeKind, m *treesManifest) (*treeModel, error) {
		if m.Entry != k.entry {
			return nil, bad(manifestName, fmt.Errorf("%s entry %q, want %q", k.name, m.Entry, k.entry))
		}
		b, err := read(k.entry)
		if err != nil {
			return nil, err
		}
		tm, err := decodeTrees(k, m, b, K)
		if err != nil {
			return nil, bad(k.entry, err)
		}
		return tm, nil
	}
	if man.Trees != nil {
		if fc.trees, err = decode(blendedTreeKind, man.Trees); err != nil {
			return nil, err
		}
	}
	if man.SwitchTrees != nil {
		if fc.switchTrees, err = decode(switchTreeKind, man.SwitchTrees); err != nil {
			return nil, err
		}
	}
	return fc, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
