package lifecycle

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func statuses(t *testing.T, r *Registry, model string) map[string]Status {
	t.Helper()
	infos, err := r.List(model)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Status{}
	for _, in := range infos {
		out[in.Version.String()] = in.Status
	}
	return out
}

func TestRegistryLifecycle(t *testing.T) {
	dir := t.TempDir()
	r, err := Create(filepath.Join(dir, "reg"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)
	r.SetClock(func() time.Time { return now })
	var vers []string
	for i := 0; i < 4; i++ {
		art := writeArtifact(t, dir, uint64(1+i))
		in, err := r.Add(Manifest{Model: "latency", Validation: Metrics{Accuracy5: 0.9 + float64(i)/100}, Features: []string{"value"}}, art)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(art)
		if in.Status != Candidate || in.CheckpointSize != st.Size() || in.Members != 1 || in.Recipe == nil || in.Recipe.Horizon != 4 {
			t.Fatalf("added %+v", in)
		}
		vers = append(vers, in.Version.String())
		now = now.Add(24 * time.Hour)
	}
	if strings.Join(vers, ",") != "v1.0.0,v1.1.0,v1.2.0,v1.3.0" {
		t.Fatalf("versions %v", vers)
	}
	if _, err := r.Active("latency"); !errors.Is(err, ErrNoActive) {
		t.Fatalf("Active before promote: %v", err)
	}
	for _, v := range vers[:3] {
		if err := r.Promote("latency", v, "test"); err != nil {
			t.Fatal(err)
		}
	}
	got := statuses(t, r, "latency")
	want := map[string]Status{"v1.0.0": Deprecated, "v1.1.0": Deprecated, "v1.2.0": Active, "v1.3.0": Candidate}
	for v, s := range want {
		if got[v] != s {
			t.Fatalf("%s: %s, want %s (all %v)", v, got[v], s, got)
		}
	}
	a, err := r.Active("latency")
	if err != nil || a.Version.String() != "v1.2.0" || a.Parent != "" {
		t.Fatalf("active %v %v", a.Version, err)
	}
	// v1.3.0 was added when nothing was Active, its parent is empty; a new
	// one records v1.2.0.
	in, _ := r.Add(Manifest{Model: "latency"}, writeArtifact(t, dir, 5))
	if in.Parent != "v1.2.0" || in.Version.String() != "v1.4.0" {
		t.Fatalf("parent %q version %s", in.Parent, in.Version)
	}
	back, err := r.Rollback("latency", "", "")
	if err != nil || back != "v1.1.0" {
		t.Fatalf("rollback -> %q, %v", back, err)
	}
	back, err = r.Rollback("latency", "", "")
	if err != nil || back != "v1.0.0" {
		t.Fatalf("second rollback -> %q, %v", back, err)
	}
	if _, err := r.Rollback("latency", "", ""); err == nil {
		t.Fatal("rollback past the first activation succeeded")
	}
	if back, err = r.Rollback("latency", "v1.2.0", "manual"); err != nil || back != "v1.2.0" {
		t.Fatalf("rollback to v1.2.0: %q %v", back, err)
	}
	if err := r.Annotate("latency", "v1.3.0", Note{Kind: "rejected", Text: "accuracy5 0.93 < 0.95"}); err != nil {
		t.Fatal(err)
	}
	info, err := r.Get("latency", "1.3.0")
	if err != nil || info.Reason != "accuracy5 0.93 < 0.95" || len(info.Notes) != 1 {
		t.Fatalf("get: %+v %v", info, err)
	}

	// GC: keep Active (v1.2.0), roll back target (v1.0.0), 1 deprecated, 1 candidate.
	now = now.Add(30 * 24 * time.Hour)
	removed, err := r.GC(GCPolicy{KeepDeprecated: 1, KeepCandidates: 1})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(removed, ",") != "latency/v1.3.0" {
		t.Fatalf("removed %v; left %v", removed, statuses(t, r, "latency"))
	}
	if _, err := os.Stat(filepath.Join(r.Dir(), "versions", "latency", "v1.3.0")); !os.IsNotExist(err) {
		t.Fatalf("v1.3.0 directory still there: %v", err)
	}
	// A version number is never reused after GC.
	in, _ = r.Add(Manifest{Model: "latency"}, writeArtifact(t, dir, 6))
	if in.Version.String() != "v1.5.0" {
		t.Fatalf("after gc got %s", in.Version)
	}
	if _, err := r.Verify(""); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptCheckpointNeverServed(t *testing.T) {
	dir := t.TempDir()
	r, _ := Create(filepath.Join(dir, "reg"))
	a, _ := r.Add(Manifest{Model: "m"}, writeArtifact(t, dir, 1))
	b, _ := r.Add(Manifest{Model: "m"}, writeArtifact(t, dir, 2))
	if err := r.Promote("m", a.Version.String(), ""); err != nil {
		t.Fatal(err)
	}
	// Same size, one byte flipped: only the checksum can tell.
	flipByte(t, b.CheckpointPath)
	var ce *CorruptError
	if err := r.Promote("m", b.Version.String(), ""); !errors.As(err, &ce) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("promote of a corrupt version: %v", err)
	}
	if _, err := r.Verify("m"); !errors.As(err, &ce) || ce.Version != "v1.1.0" {
		t.Fatalf("verify: %v", err)
	}
	if fc, _, err := r.Load("m", b.Version.String()); !errors.As(err, &ce) || fc != nil {
		t.Fatalf("load of a corrupt version: %v", err)
	}
	// The Active one itself corrupted: Active and LoadActive refuse to
	// hand it out.
	flipByte(t, a.CheckpointPath)
	if _, err := r.Active("m"); !errors.As(err, &ce) || ce.Version != "v1.0.0" {
		t.Fatalf("active: %v", err)
	}
	if fc, _, err := r.LoadActive("m"); !errors.As(err, &ce) || ce.Version != "v1.0.0" || fc != nil {
		t.Fatalf("load active: %v", err)
	}
}

func TestMissingCheckpointAndCorruptManifest(t *testing.T) {
	dir := t.TempDir()
	r, _ := Create(filepath.Join(dir, "reg"))
	a, _ := r.Add(Manifest{Model: "m"}, writeArtifact(t, dir, 1))
	b, _ := r.Add(Manifest{Model: "m"}, writeArtifact(t, dir, 2))
	c, _ := r.Add(Manifest{Model: "m"}, writeArtifact(t, dir, 3))
	os.Remove(a.CheckpointPath)
	mp := filepath.Join(b.Dir, manifestName)
	mb, _ := os.ReadFile(mp)
	os.WriteFile(mp, []byte(strings.Replace(string(mb), `"accuracy5": 0`, `"accuracy5": 1`, 1)), 0o644)
	os.WriteFile(filepath.Join(c.Dir, manifestName), []byte("{not json"), 0o644)
	infos, err := r.List("m")
	if err != nil {
		t.Fatal(err)
	}
	wantProblem := []string{"checkpoint missing", "manifest checksum mismatch", "manifest checksum mismatch"}
	for i, in := range infos {
		if !strings.Contains(in.Problem, wantProblem[i]) {
			t.Errorf("%s: problem %q, want %q", in.Version, in.Problem, wantProblem[i])
		}
	}
	for _, v := range []string{"v1.0.0", "v1.1.0", "v1.2.0"} {
		if err := r.Promote("m", v, ""); err == nil {
			t.Errorf("promoted broken %s", v)
		}
	}
}

func TestCorruptIndexReported(t *testing.T) {
	dir := t.TempDir()
	r, _ := Create(dir)
	r.Add(Manifest{Model: "m"}, writeArtifact(t, t.TempDir(), 1))
	os.WriteFile(filepath.Join(dir, indexName), []byte(`{"format":"perfpredict-registry/1","models":{"m":{"active":"v9.9.9","versions":{}}}}`), 0o644)
	if _, err := r.List(""); err == nil || !strings.Contains(err.Error(), "index.json") {
		t.Fatalf("inconsistent index: %v", err)
	}
	os.WriteFile(filepath.Join(dir, indexName), []byte(`{"format":`), 0o644)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "index.json is corrupt") {
		t.Fatalf("truncated index: %v", err)
	}
}

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	r, _ := Create(dir)
	if _, err := r.Add(Manifest{Model: "../evil"}, writeArtifact(t, t.TempDir(), 1)); err == nil {
		t.Error("path-like model name accepted")
	}
	if _, err := r.Add(Manifest{Model: "m"}, filepath.Join(dir, "nope")); err == nil {
		t.Error("missing checkpoint accepted")
	}
	// Not a forecaster artifact: a raw network checkpoint, a truncated
	// artifact. Nothing is stored.
	raw := filepath.Join(t.TempDir(), "model.safetensors")
	if err := tinyForecaster(t, "smooth", 1).Network(0).Save(raw); err != nil {
		t.Fatal(err)
	}
	cut := writeArtifact(t, t.TempDir(), 1)
	b, _ := os.ReadFile(cut)
	os.WriteFile(cut, b[:len(b)-40], 0o644)
	for _, p := range []string{raw, cut} {
		if _, err := r.Add(Manifest{Model: "m"}, p); !errors.Is(err, ErrBadArtifact) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", filepath.Base(p), err)
		}
	}
	if names, _ := r.Models(); len(names) != 0 {
		t.Errorf("models after refused adds: %v", names)
	}
	if _, err := ParseVersion("1.2"); err == nil {
		t.Error("1.2 parsed")
	}
	r.Add(Manifest{Model: "m", Version: Version{2, 0, 0}}, writeArtifact(t, t.TempDir(), 1))
	if _, err := r.Add(Manifest{Model: "m", Version: Version{1, 5, 0}}, writeArtifact(t, t.TempDir(), 1)); err == nil {
		t.Error("version older than the newest accepted")
	}
	if err := r.Promote("m", "v3.0.0", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("promote unknown: %v", err)
	}
}

func TestNonFiniteFiguresStored(t *testing.T) {
	r, _ := Create(t.TempDir())
	nan := math.NaN()
	in, err := r.AddForecaster(Manifest{Model: "m", Validation: Metrics{N: 3, MAE: nan, RMSE: math.Inf(1), Accuracy5: 0.5}}, tinyForecaster(t, "smooth", 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Annotate("m", in.Version.String(), Note{Kind: "x", Values: map[string]float64{"z": math.Inf(-1), "n": 3}}); err != nil {
		t.Fatal(err)
	}
	got, err := r.Get("m", "v1.0.0")
	if err != nil || got.Validation.MAE != -1 || got.Validation.Accuracy5 != 0.5 || len(got.Notes[0].Values) != 1 {
		t.Fatalf("%+v %v", got, err)
	}
}

// TestOpenNeverCreates: Open, what reading commands use, finds an existing
// registry or fails with ErrNoRegistry and leaves the path as it was;
// Create makes a registry only where there is none and nothing else.
func TestOpenNeverCreates(t *testing.T) {
	base := t.TempDir()
	missing := filepath.Join(base, "regsitry") // a typo
	if _, err := Open(missing); !errors.Is(err, ErrNoRegistry) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("open missing: %v", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("open created %s: %v", missing, err)
	}
	// An existing directory that is not a registry stays untouched.
	other := filepath.Join(base, "home")
	os.Mkdir(other, 0o755)
	os.WriteFile(filepath.Join(other, "notes.txt"), []byte("x"), 0o644)
	if _, err := Open(other); !errors.Is(err, ErrNoRegistry) {
		t.Fatalf("open non-registry: %v", err)
	}
	if _, err := Create(other); err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("create among other files: %v", err)
	}
	if ents, _ := os.ReadDir(other); len(ents) != 1 {
		t.Fatalf("%s now holds %d entries", other, len(ents))
	}
	if _, err := Open(filepath.Join(other, "notes.txt")); !errors.Is(err, ErrNoRegistry) {
		t.Fatalf("open a file: %v", err)
	}
	// Create makes one; Open then finds it, with its versions.
	r, err := Create(missing)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add(Manifest{Model: "m"}, writeArtifact(t, base, 1)); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(missing)
	if err != nil {
		t.Fatal(err)
	}
	if infos, err := r2.List(""); err != nil || len(infos) != 1 {
		t.Fatalf("reopened: %d versions, %v", len(infos), err)
	}
	if _, err := Create(missing); err != nil {
		t.Fatalf("create on an existing registry: %v", err)
	}
}

// TestLoadServesStoredForecaster: a version's forecaster, opened from the
// registry, forecasts exactly as the forecaster that was stored.
func TestLoadServesStoredForecaster(t *testing.T) {
	r, _ := Create(t.TempDir())
	fc := tinyForecaster(t, "smooth", 1)
	a, err := r.AddForecaster(Manifest{Model: "m"}, fc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Add(Manifest{Model: "m"}, writeArtifact(t, t.TempDir(), 2))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.LoadActive("m"); !errors.Is(err, ErrNoActive) {
		t.Fatalf("load active before a promotion: %v", err)
	}
	r.Promote("m", a.Version.String(), "")
	got, info, err := r.LoadActive("m")
	if err != nil || info.Version != a.Version {
		t.Fatalf("load active: %s %v", info.Version, err)
	}
	h := values(smooth, 500, 40)
	want, _ := fc.Forecast(context.Background(), h)
	f, err := got.Forecast(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	for k := range want.Points {
		if f.Points[k] != want.Points[k] {
			t.Fatalf("h=%d: stored %+v, opened %+v", k+1, want.Points[k], f.Points[k])
		}
	}
	other, _, err := r.Load("m", "1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := other.Forecast(context.Background(), h); g.Points[0] == want.Points[0] {
		t.Fatalf("%s forecasts as %s", b.Version, a.Version)
	}
	if _, _, err := r.Load("m", "v9.0.0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("load unknown: %v", err)
	}
}

// TestLoadForeignCheckpoint: a version whose intact checkpoint is not a
// forecaster artifact (a registry filled by an older build) is listed and
// verifies, but Load says what it is instead of serving it.
func TestLoadForeignCheckpoint(t *testing.T) {
	r, _ := Create(t.TempDir())
	in, err := r.add(Manifest{Model: "m"}, tinyForecaster(t, "smooth", 1), []byte("a safetensors checkpoint of an older build"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Verify("m"); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	_, _, err = r.Load("m", in.Version.String())
	if !errors.Is(err, ErrBadArtifact) || errors.As(err, &ce) || !strings.Contains(err.Error(), in.CheckpointPath) {
		t.Fatalf("load: %v", err)
	}
}
