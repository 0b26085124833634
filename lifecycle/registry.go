package lifecycle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/novacron/perfpredict/forecast"
)

const (
	indexName    = "index.json"
	lockName     = "LOCK"
	manifestName = "manifest.json"
	indexFormat  = "perfpredict-registry/1"
	maxNotes     = 100
)

// ErrNotFound is returned for an unknown model name or version.
var ErrNotFound = errors.New("lifecycle: not found")

// ErrNoActive is returned when a model has no Active version.
var ErrNoActive = errors.New("lifecycle: no Active version")

// CorruptError reports a version whose files are missing or fail their
// checksums. Such a version is never returned as servable.
type CorruptError struct {
	Model, Version, Path, Problem string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("lifecycle: %s %s is corrupt: %s (%s)", e.Model, e.Version, e.Problem, e.Path)
}

// index is the registry's single source of truth, replaced atomically.
type index struct {
	Format string                 `json:"format"`
	Seq    int64                  `json:"seq"`
	Models map[string]*modelState `json:"models"`
}

type modelState struct {
	Active string `json:"active,omitempty"`
	// Activations lists versions in the order they became Active; roll back
	// walks it backwards.
	Activations []string                 `json:"activations,omitempty"`
	Versions    map[string]*versionState `json:"versions"`
	// Newest is the highest version ever added, so that garbage collection
	// never lets a version number be reused.
	Newest string `json:"newest,omitempty"`
}

type versionState struct {
	Status         Status    `json:"status"`
	Created        time.Time `json:"created"`
	ManifestSHA256 string    `json:"manifest_sha256"`
	Reason         string    `json:"reason,omitempty"`
	Notes          []Note    `json:"notes,omitempty"`
}

// Registry is a directory of model versions. It is safe for concurrent use
// by goroutines and by processes: every change takes an exclusive file lock,
// re-reads the index, and replaces it atomically.
type Registry struct {
	dir string
	now func() time.Time
}

// ErrNoRegistry is returned by Open for a directory that holds no registry
// (a mistyped path): reading a registry never creates one.
var ErrNoRegistry = errors.New("lifecycle: no model registry")

// Open opens the existing registry in dir and removes the debris a crashed
// writer may have left (staging files; unindexed version directories are
// left for GC). A directory without a registry's index is an error wrapping
// ErrNoRegistry, and nothing is created there: use Create to make one.
func Open(dir string) (*Registry, error) {
	st, err := os.Stat(dir)
	if err == nil && !st.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrNoRegistry, dir)
	}
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, indexName))
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s (no %s there)", ErrNoRegistry, dir, indexName)
	}
	if err != nil {
		return nil, fmt.Errorf("lifecycle: open registry: %w", err)
	}
	return open(dir)
}

// Create opens the registry in dir, first making an empty one if dir is
// missing or empty. It refuses a directory that holds other files, so a
// wrong path cannot scatter a registry among them.
func Create(dir string) (*Registry, error) {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("lifecycle: create registry: %w", err)
	}
	var foreign string
	for _, e := range ents {
		switch name := e.Name(); {
		case name == indexName:
			return open(dir)
		case name == "versions", name == "tmp", name == lockName, strings.HasPrefix(name, "."+indexName+".tmp-"):
			// A registry whose first index write was interrupted.
		default:
			foreign = name
		}
	}
	if foreign != "" {
		return nil, fmt.Errorf("lifecycle: create registry in %s: the directory holds %q and no registry (%s); use an empty or new directory", dir, foreign, indexName)
	}
	return open(dir)
}

// open makes the registry's directories, cleans up after crashed writers,
// and writes an empty index if there is none.
func open(dir string) (*Registry, error) {
	if err := os.MkdirAll(filepath.Join(dir, "versions"), 0o755); err != nil {
		return nil, fmt.Errorf("lifecycle: open registry: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("lifecycle: open registry: %w", err)
	}
	r := &Registry{dir: dir, now: time.Now}
	err := r.update(func(ix *index) (bool, error) {
		// Staging leftovers belong to writers that died holding the lock.
		ents, _ := os.ReadDir(filepath.Join(dir, "tmp"))
		for _, e := range ents {
			os.RemoveAll(filepath.Join(dir, "tmp", e.Name()))
		}
		ents, _ = os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "."+indexName+".tmp-") {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
		_, err := os.Stat(filepath.Join(dir, indexName))
		return errors.Is(err, fs.ErrNotExist), nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// SetClock replaces the registry's time source (created times, notes);
// simulations pass their simulated clock.
func (r *Registry) SetClock(now func() time.Time) { r.now = now }

// Dir is the registry's directory.
func (r *Registry) Dir() string { return r.dir }

func (r *Registry) readIndex() (*index, error) {
	path := filepath.Join(r.dir, indexName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &index{Format: indexFormat, Models: map[string]*modelState{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lifecycle: read %s: %w", path, err)
	}
	var ix index
	if err := json.Unmarshal(b, &ix); err != nil {
		return nil, fmt.Errorf("lifecycle: %s is corrupt: %w", path, err)
	}
	if ix.Format != indexFormat {
		return nil, fmt.Errorf("lifecycle: %s: format %q, want %q", path, ix.Format, indexFormat)
	}
	if ix.Models == nil {
		ix.Models = map[string]*modelState{}
	}
	// The index is trusted for nothing: names become paths, so they are
	// checked, and every state must be one the registry writes.
	for name, ms := range ix.Models {
		if !validName(name) || ms == nil {
			return nil, fmt.Errorf("lifecycle: %s is corrupt: bad model entry %q", path, name)
		}
		if ms.Versions == nil {
			ms.Versions = map[string]*versionState{}
		}
		n := 0
		for v, vs := range ms.Versions {
			if pv, err := ParseVersion(v); err != nil || pv.String() != v || vs == nil {
				return nil, fmt.Errorf("lifecycle: %s is corrupt: model %s has a bad version entry %q", path, name, v)
			}
			switch vs.Status {
			case Candidate, Deprecated:
			case Active:
				n++
				if ms.Active != v {
					return nil, fmt.Errorf("lifecycle: %s: %s %s is Active but the model's active is %q", path, name, v, ms.Active)
				}
			default:
				return nil, fmt.Errorf("lifecycle: %s is corrupt: %s %s has status %q", path, name, v, vs.Status)
			}
		}
		if n > 1 || (ms.Active != "" && n == 0) {
			return nil, fmt.Errorf("lifecycle: %s: model %s has %d Active versions (active %q)", path, name, n, ms.Active)
		}
	}
	return &ix, nil
}

// update runs fn on the index under the exclusive lock and writes the index
// back if fn reports a change.
func (r *Registry) update(fn func(ix *index) (changed bool, err error)) error {
	l, err := lockFile(filepath.Join(r.dir, lockName))
	if err != nil {
		return err
	}
	defer l.unlock()
	ix, err := r.readIndex()
	if err != nil {
		return err
	}
	changed, err := fn(ix)
	if err != nil || !changed {
		return err
	}
	ix.Seq++
	return writeFileAtomic(filepath.Join(r.dir, indexName), marshalIndent(ix), 0o644)
}

func (r *Registry) versionDir(model, version string) string {
	return filepath.Join(r.dir, "versions", model, version)
}

// artifactName is a version's forecaster artifact inside its directory.
const artifactName = "forecaster.zip"

// ErrBadArtifact marks a file that is not a forecaster artifact this build
// reads.
var ErrBadArtifact = errors.New("lifecycle: not a forecaster artifact")

// Add stores a new Candidate version from a forecaster artifact file (as
// forecast.Forecaster.Save writes it): the file must open as a forecaster;
// it is copied into the registry and hashed, and the manifest written
// beside it. m.Model names the model; a zero m.Version gets the next minor
// version after the newest one (v1.0.0 for the first); m.Created defaults
// to now; m.Parent defaults to the current Active version; m.Recipe and
// m.Members are read from the artifact.
func (r *Registry) Add(m Manifest, artifact string) (VersionInfo, error) {
	if !validName(m.Model) {
		return VersionInfo{}, fmt.Errorf("lifecycle: model name %q: use letters, digits, '-', '_' and '.'", m.Model)
	}
	st, err := os.Stat(artifact)
	if err != nil {
		return VersionInfo{}, fmt.Errorf("lifecycle: artifact: %w", err)
	}
	if !st.Mode().IsRegular() {
		return VersionInfo{}, fmt.Errorf("lifecycle: artifact %s is not a regular file", artifact)
	}
	data, err := os.ReadFile(artifact)
	if err != nil {
		return VersionInfo{}, fmt.Errorf("lifecycle: artifact: %w", err)
	}
	fc, err := forecast.Decode(data, artifact)
	if err != nil {
		return VersionInfo{}, fmt.Errorf("%w: %w", ErrBadArtifact, err)
	}
	return r.add(m, fc, data)
}

// AddForecaster stores fc as a new Candidate version, as Add does with an
// artifact file.
func (r *Registry) AddForecaster(m Manifest, fc *forecast.Forecaster) (VersionInfo, error) {
	if !validName(m.Model) {
		return VersionInfo{}, fmt.Errorf("lifecycle: model name %q: use letters, digits, '-', '_' and '.'", m.Model)
	}
	var buf bytes.Buffer
	if err := fc.Encode(&buf); err != nil {
		return VersionInfo{}, fmt.Errorf("lifecycle: encode forecaster: %w", err)
	}
	return r.add(m, fc, buf.Bytes())
}

// add stores data, the artifact of fc, as a new version.
func (r *Registry) add(m Manifest, fc *forecast.Forecaster, data []byte) (VersionInfo, error) {
	rec := fc.Recipe()
	m.Recipe, m.Members = &rec, fc.Members()
	var out VersionInfo
	err := r.update(func(ix *index) (bool, error) {
		ms := ix.Models[m.Model]
		if ms == nil {
			ms = &modelState{Versions: map[string]*versionState{}}
		}
		if m.Version == (Version{}) {
			m.Version = Version{1, 0, 0}
			if nv, err := ParseVersion(ms.Newest); err == nil {
				m.Version = nv.NextMinor()
			}
		}
		vs := m.Version.String()
		if _, dup := ms.Versions[vs]; dup {
			return false, fmt.Errorf("lifecycle: %s %s already exists", m.Model, vs)
		}
		if nv, err := ParseVersion(ms.Newest); err == nil && !nv.Less(m.Version) {
			return false, fmt.Errorf("lifecycle: %s %s is not newer than %s, the newest version ever added", m.Model, vs, ms.Newest)
		}
		if m.Created.IsZero() {
			m.Created = r.now().UTC()
		}
		if m.Parent == "" {
			m.Parent = ms.Active
		}
		m.Checkpoint = artifactName
		m.CheckpointSHA, m.CheckpointSize = bytesSHA256(data), int64(len(data))
		// JSON has no NaN or Inf: such figures are stored as -1 (unknown).
		m.Validation.finite()
		m.Test.finite()
		if err := m.validate(); err != nil {
			return false, err
		}

		// Stage everything in tmp/, durable, then rename into place.
		stage := filepath.Join(r.dir, "tmp", "add-"+randomSuffix())
		if err := os.Mkdir(stage, 0o755); err != nil {
			return false, err
		}
		defer os.RemoveAll(stage) // no-op after the rename
		if err := writeFileSync(filepath.Join(stage, m.Checkpoint), data); err != nil {
			return false, err
		}
		mb := marshalIndent(m)
		if err := writeFileSync(filepath.Join(stage, manifestName), mb); err != nil {
			return false, err
		}
		if err := syncDir(stage); err != nil {
			return false, err
		}
		parent := filepath.Join(r.dir, "versions", m.Model)
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return false, err
		}
		if err := syncDir(filepath.Join(r.dir, "versions")); err != nil {
			return false, err
		}
		dst := filepath.Join(parent, vs)
		// An unindexed directory here is a crashed Add's; it is not a version.
		if err := os.RemoveAll(dst); err != nil {
			return false, err
		}
		if err := os.Rename(stage, dst); err != nil {
			return false, err
		}
		if err := syncDir(parent); err != nil {
			return false, err
		}
		ms.Newest = vs
		ms.Versions[vs] = &versionState{Status: Candidate, Created: m.Created, ManifestSHA256: bytesSHA256(mb)}
		ix.Models[m.Model] = ms
		out = r.info(m, ms.Versions[vs])
		return true, nil
	})
	return out, err
}

func (r *Registry) info(m Manifest, vs *versionState) VersionInfo {
	dir := r.versionDir(m.Model, m.Version.String())
	return VersionInfo{
		Manifest: m, Status: vs.Status, Reason: vs.Reason,
		Notes: append([]Note(nil), vs.Notes...), Dir: dir,
		CheckpointPath: filepath.Join(dir, m.Checkpoint),
	}
}

// load reads a version's manifest, checking it against the index's hash; if
// full, it also hashes the checkpoint.
func (r *Registry) load(model, version string, vs *versionState, full bool) (VersionInfo, error) {
	dir := r.versionDir(model, version)
	mpath := filepath.Join(dir, manifestName)
	bad := func(path, problem string) (VersionInfo, error) {
		info := VersionInfo{Status: vs.Status, Reason: vs.Reason, Notes: vs.Notes, Dir: dir, Problem: problem}
		info.Model = model
		info.Version, _ = ParseVersion(version)
		info.Created = vs.Created
		return info, &CorruptError{Model: model, Version: version, Path: path, Problem: problem}
	}
	mb, err := os.ReadFile(mpath)
	if err != nil {
		return bad(mpath, "manifest unreadable: "+errText(err))
	}
	if got := bytesSHA256(mb); got != vs.ManifestSHA256 {
		return bad(mpath, "manifest checksum mismatch")
	}
	var m Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return bad(mpath, "manifest is not valid JSON: "+err.Error())
	}
	if m.Model != model || m.Version.String() != version {
		return bad(mpath, fmt.Sprintf("manifest names %s %s", m.Model, m.Version))
	}
	if err := m.validate(); err != nil {
		return bad(mpath, err.Error())
	}
	info := r.info(m, vs)
	cst, err := os.Stat(info.CheckpointPath)
	if err != nil {
		return bad(info.CheckpointPath, "checkpoint missing: "+errText(err))
	}
	if cst.Size() != m.CheckpointSize {
		return bad(info.CheckpointPath, fmt.Sprintf("checkpoint has %d bytes, manifest says %d", cst.Size(), m.CheckpointSize))
	}
	if full {
		sum, _, err := fileSHA256(info.CheckpointPath)
		if err != nil {
			return bad(info.CheckpointPath, "checkpoint unreadable: "+errText(err))
		}
		if sum != m.CheckpointSHA {
			return bad(info.CheckpointPath, "checkpoint checksum mismatch")
		}
	}
	return info, nil
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Models lists the model names in the registry.
func (r *Registry) Models() ([]string, error) {
	ix, err := r.readIndex()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ix.Models))
	for n := range ix.Models {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// List returns the versions of model (all models if model is ""), oldest
// version first. Manifests are checked against their checksums and the
// checkpoints' sizes; a version failing that is listed with Problem set.
// Use Verify for a full checksum of every checkpoint.
func (r *Registry) List(model string) ([]VersionInfo, error) {
	return r.list(model, false)
}

// Verify is List with every checkpoint hashed; it returns the versions and
// the problems found (nil if none).
func (r *Registry) Verify(model string) ([]VersionInfo, error) {
	infos, err := r.list(model, true)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, in := range infos {
		if in.Problem != "" {
			errs = append(errs, &CorruptError{Model: in.Model, Version: in.Version.String(), Path: in.Dir, Problem: in.Problem})
		}
	}
	return infos, errors.Join(errs...)
}

func (r *Registry) list(model string, full bool) ([]VersionInfo, error) {
	ix, err := r.readIndex()
	if err != nil {
		return nil, err
	}
	if model != "" && ix.Models[model] == nil {
		return nil, fmt.Errorf("%w: model %q", ErrNotFound, model)
	}
	var out []VersionInfo
	for name, ms := range ix.Models {
		if model != "" && name != model {
			continue
		}
		for v, vs := range ms.Versions {
			info, _ := r.load(name, v, vs, full)
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Model != out[j].Model {
			return out[i].Model < out[j].Model
		}
		return out[i].Version.Less(out[j].Version)
	})
	return out, nil
}

// Get returns one version, fully verified; a corrupt one comes back with a
// *CorruptError and Problem set.
func (r *Registry) Get(model, version string) (VersionInfo, error) {
	ix, err := r.readIndex()
	if err != nil {
		return VersionInfo{}, err
	}
	vs, err := lookup(ix, model, version)
	if err != nil {
		return VersionInfo{}, err
	}
	return r.load(model, canonical(version), vs, true)
}

// Active returns the model's Active version after checking its checkpoint's
// checksum: the only way callers should pick a version to serve. A corrupt
// Active version returns a *CorruptError (keep serving what is loaded, or
// roll back).
func (r *Registry) Active(model string) (VersionInfo, error) {
	ix, err := r.readIndex()
	if err != nil {
		return VersionInfo{}, err
	}
	ms := ix.Models[model]
	if ms == nil {
		return VersionInfo{}, fmt.Errorf("%w: model %q", ErrNotFound, model)
	}
	if ms.Active == "" {
		return VersionInfo{}, fmt.Errorf("%w for model %q", ErrNoActive, model)
	}
	info, err := r.load(model, ms.Active, ms.Versions[ms.Active], true)
	if err != nil {
		return VersionInfo{}, err
	}
	return info, nil
}

// Load opens a version's forecaster. The artifact is read once: the bytes
// decoded are the bytes whose checksum was verified. A corrupt version
// returns a *CorruptError; an intact file this build cannot read (another
// kind of file, a newer artifact format) an error wrapping ErrBadArtifact.
func (r *Registry) Load(model, version string) (*forecast.Forecaster, VersionInfo, error) {
	ix, err := r.readIndex()
	if err != nil {
		return nil, VersionInfo{}, err
	}
	vs, err := lookup(ix, model, version)
	if err != nil {
		return nil, VersionInfo{}, err
	}
	return r.open(model, canonical(version), vs)
}

// LoadActive opens the model's Active version's forecaster, as Load does:
// the way to pick what to serve. A corrupt Active version returns a
// *CorruptError (keep serving what is loaded, or roll back).
func (r *Registry) LoadActive(model string) (*forecast.Forecaster, VersionInfo, error) {
	ix, err := r.readIndex()
	if err != nil {
		return nil, VersionInfo{}, err
	}
	ms := ix.Models[model]
	if ms == nil {
		return nil, VersionInfo{}, fmt.Errorf("%w: model %q", ErrNotFound, model)
	}
	if ms.Active == "" {
		return nil, VersionInfo{}, fmt.Errorf("%w for model %q", ErrNoActive, model)
	}
	return r.open(model, ms.Active, ms.Versions[ms.Active])
}

// open reads, verifies and decodes a version's artifact.
func (r *Registry) open(model, version string, vs *versionState) (*forecast.Forecaster, VersionInfo, error) {
	info, err := r.load(model, version, vs, false)
	if err != nil {
		return nil, info, err
	}
	data, err := os.ReadFile(info.CheckpointPath)
	problem := ""
	switch {
	case err != nil:
		problem = "checkpoint unreadable: " + errText(err)
	case bytesSHA256(data) != info.CheckpointSHA:
		problem = "checkpoint checksum mismatch"
	}
	if problem != "" {
		info.Problem = problem
		return nil, info, &CorruptError{Model: model, Version: version, Path: info.CheckpointPath, Problem: problem}
	}
	fc, err := forecast.Decode(data, info.CheckpointPath)
	if err != nil {
		return nil, info, fmt.Errorf("%w: %s %s: %w", ErrBadArtifact, model, version, err)
	}
	return fc, info, nil
}

// ActiveVersion names the model's Active version ("" if none) from the
// index alone, without verifying files: a cheap check whether it changed.
func (r *Registry) ActiveVersion(model string) (string, error) {
	ix, err := r.readIndex()
	if err != nil {
		return "", err
	}
	if ms := ix.Models[model]; ms != nil {
		return ms.Active, nil
	}
	return "", nil
}

func lookup(ix *index, model, version string) (*versionState, error) {
	ms := ix.Models[model]
	if ms == nil {
		return nil, fmt.Errorf("%w: model %q", ErrNotFound, model)
	}
	if pv, err := ParseVersion(version); err == nil {
		version = pv.String()
	}
	vs := ms.Versions[version]
	if vs == nil {
		return nil, fmt.Errorf("%w: %s %s", ErrNotFound, model, version)
	}
	return vs, nil
}

func (r *Registry) addNote(vs *versionState, kind, text string, values map[string]float64) {
	if len(values) > 0 {
		clean := make(map[string]float64, len(values))
		for k, v := range values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) { // JSON has neither
				clean[k] = v
			}
		}
		values = clean
	}
	vs.Notes = append(vs.Notes, Note{Time: r.now().UTC(), Kind: kind, Text: text, Values: values})
	if len(vs.Notes) > maxNotes {
		vs.Notes = append([]Note(nil), vs.Notes[len(vs.Notes)-maxNotes:]...)
	}
}

// activate makes version the model's Active one, deprecating the previous.
func (r *Registry) activate(model, version string, ms *modelState, kind, reason string) error {
	vs := ms.Versions[version]
	if _, err := r.load(model, version, vs, true); err != nil {
		return fmt.Errorf("lifecycle: refusing to activate: %w", err)
	}
	if old := ms.Active; old != "" && old != version {
		ovs := ms.Versions[old]
		ovs.Status = Deprecated
		ovs.Reason = fmt.Sprintf("%s: replaced by %s", kind, version)
		r.addNote(ovs, "deprecated", ovs.Reason, nil)
	}
	vs.Status = Active
	vs.Reason = reason
	r.addNote(vs, kind, reason, nil)
	ms.Active = version
	return nil
}

// Promote makes version Active (after verifying its checksum) and the
// previous Active one Deprecated, in one atomic step.
func (r *Registry) Promote(model, version, reason string) error {
	return r.update(func(ix *index) (bool, error) {
		vs, err := lookup(ix, model, version)
		if err != nil {
			return false, err
		}
		ms := ix.Models[model]
		version = canonical(version)
		if ms.Active == version && vs.Status == Active {
			return false, nil
		}
		if err := r.activate(model, version, ms, "promoted", reason); err != nil {
			return false, err
		}
		ms.Activations = append(ms.Activations, version)
		return true, nil
	})
}

func canonical(v string) string {
	if pv, err := ParseVersion(v); err == nil {
		return pv.String()
	}
	return v
}

// Rollback makes a previous version Active again: to, or if to is "" the
// most recent earlier activation that still exists and verifies. The
// current Active becomes Deprecated. It returns the version now Active.
func (r *Registry) Rollback(model, to, reason string) (string, error) {
	var target string
	err := r.update(func(ix *index) (bool, error) {
		ms := ix.Models[model]
		if ms == nil {
			return false, fmt.Errorf("%w: model %q", ErrNotFound, model)
		}
		if ms.Active == "" {
			return false, fmt.Errorf("%w for model %q: nothing to roll back", ErrNoActive, model)
		}
		acts := ms.Activations
		// Drop the current activation and walk back to a usable version.
		for len(acts) > 0 && acts[len(acts)-1] == ms.Active {
			acts = acts[:len(acts)-1]
		}
		if to != "" {
			to = canonical(to)
			if _, err := lookup(ix, model, to); err != nil {
				return false, err
			}
			if to == ms.Active {
				return false, fmt.Errorf("lifecycle: %s %s is already Active", model, to)
			}
			target = to
			// An explicit target is a manual activation: keep the current
			// one in the history so that a later roll back returns to it.
			acts = append(append([]string(nil), ms.Activations...), to)
		} else {
			for len(acts) > 0 {
				cand := acts[len(acts)-1]
				if vs := ms.Versions[cand]; vs != nil && cand != ms.Active {
					if _, err := r.load(model, cand, vs, true); err == nil {
						target = cand
						break
					}
				}
				acts = acts[:len(acts)-1]
			}
			if target == "" {
				return false, fmt.Errorf("lifecycle: %s: no earlier intact version to roll back to", model)
			}
		}
		if reason == "" {
			reason = "rolled back from " + ms.Active
		}
		if err := r.activate(model, target, ms, "rolled back", reason); err != nil {
			return false, err
		}
		ms.Activations = acts
		return true, nil
	})
	return target, err
}

// Deprecate retires a Candidate or Active version. Deprecating the Active
// one leaves the model without an Active version.
func (r *Registry) Deprecate(model, version, reason string) error {
	return r.update(func(ix *index) (bool, error) {
		vs, err := lookup(ix, model, version)
		if err != nil {
			return false, err
		}
		if vs.Status == Deprecated {
			return false, nil
		}
		version = canonical(version)
		ms := ix.Models[model]
		if ms.Active == version {
			ms.Active = ""
		}
		vs.Status = Deprecated
		vs.Reason = reason
		r.addNote(vs, "deprecated", reason, nil)
		return true, nil
	})
}

// Annotate records an event against a version (an A/B outcome, a validation
// result). A note of kind "rejected" also sets the version's Reason.
func (r *Registry) Annotate(model, version string, n Note) error {
	return r.update(func(ix *index) (bool, error) {
		vs, err := lookup(ix, model, version)
		if err != nil {
			return false, err
		}
		r.addNote(vs, n.Kind, n.Text, n.Values)
		if !n.Time.IsZero() {
			vs.Notes[len(vs.Notes)-1].Time = n.Time.UTC()
		}
		if n.Kind == "rejected" {
			vs.Reason = n.Text
		}
		return true, nil
	})
}

// GCPolicy says which versions garbage collection keeps. The Active version
// and the version a roll back would return to are always kept.
type GCPolicy struct {
	// KeepDeprecated is how many of the newest Deprecated versions to keep.
	KeepDeprecated int
	// KeepCandidates is how many of the newest Candidates to keep; older
	// ones are removed once older than CandidateMaxAge (0: any age).
	KeepCandidates  int
	CandidateMaxAge time.Duration
}

// DefaultGCPolicy keeps three Deprecated versions and five Candidates.
var DefaultGCPolicy = GCPolicy{KeepDeprecated: 3, KeepCandidates: 5, CandidateMaxAge: 7 * 24 * time.Hour}

// GC removes versions the policy does not keep, and directories of versions
// the index does not name (left by crashed writers). The index is replaced
// before any file is removed, so a crash mid-way leaves only orphans that the
// next GC removes. It returns what was removed as "model/version".
func (r *Registry) GC(p GCPolicy) ([]string, error) {
	var removed []string
	var dirs []string
	err := r.update(func(ix *index) (bool, error) {
		now := r.now()
		changed := false
		// Orphans: directories the index does not name.
		models, _ := os.ReadDir(filepath.Join(r.dir, "versions"))
		for _, me := range models {
			vers, _ := os.ReadDir(filepath.Join(r.dir, "versions", me.Name()))
			for _, ve := range vers {
				ms := ix.Models[me.Name()]
				if ms == nil || ms.Versions[ve.Name()] == nil {
					dirs = append(dirs, filepath.Join(r.dir, "versions", me.Name(), ve.Name()))
					removed = append(removed, me.Name()+"/"+ve.Name()+" (orphan)")
				}
			}
		}
		for name, ms := range ix.Models {
			keep := map[string]bool{}
			if ms.Active != "" {
				keep[ms.Active] = true
			}
			for i := len(ms.Activations) - 1; i >= 0; i-- {
				if a := ms.Activations[i]; a != ms.Active && ms.Versions[a] != nil {
					keep[a] = true // the roll back target
					break
				}
			}
			var dep, cand []string
			for v, vs := range ms.Versions {
				switch vs.Status {
				case Deprecated:
					dep = append(dep, v)
				case Candidate:
					cand = append(cand, v)
				}
			}
			newestFirst := func(s []string) {
				sort.Slice(s, func(i, j int) bool {
					a, _ := ParseVersion(s[i])
					b, _ := ParseVersion(s[j])
					return b.Less(a)
				})
			}
			newestFirst(dep)
			newestFirst(cand)
			for i, v := range dep {
				if i < p.KeepDeprecated {
					keep[v] = true
				}
			}
			for i, v := range cand {
				young := p.CandidateMaxAge > 0 && now.Sub(ms.Versions[v].Created) < p.CandidateMaxAge
				if i < p.KeepCandidates || young {
					keep[v] = true
				}
			}
			for v := range ms.Versions {
				if !keep[v] {
					delete(ms.Versions, v)
					removed = append(removed, name+"/"+v)
					dirs = append(dirs, r.versionDir(name, v))
					changed = true
				}
			}
			var acts []string
			for _, a := range ms.Activations {
				if ms.Versions[a] != nil {
					acts = append(acts, a)
				}
			}
			ms.Activations = acts
		}
		return changed, nil
	})
	if err != nil {
		return nil, err
	}
	// Files go after the index no longer names them; still under no lock is
	// fine for orphans of removed versions, but take it to keep Add's
	// RemoveAll-then-rename from racing with us.
	err = r.update(func(ix *index) (bool, error) {
		for _, d := range dirs {
			rel, _ := filepath.Rel(filepath.Join(r.dir, "versions"), d)
			parts := strings.SplitN(rel, string(filepath.Separator), 2)
			if len(parts) == 2 && ix.Models[parts[0]] != nil && ix.Models[parts[0]].Versions[parts[1]] != nil {
				continue // re-added meanwhile
			}
			if err := os.RemoveAll(d); err != nil {
				return false, err
			}
		}
		return false, nil
	})
	sort.Strings(removed)
	return removed, err
}
