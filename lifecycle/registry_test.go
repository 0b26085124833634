package lifecycle

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeCkpt(t testing.TB, dir string, content string) string {
	t.Helper()
	p := filepath.Join(dir, "ckpt-"+randomSuffix()+".safetensors")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

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
	r, err := Open(filepath.Join(dir, "reg"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)
	r.SetClock(func() time.Time { return now })
	var vers []string
	for i := 0; i < 4; i++ {
		in, err := r.Add(Manifest{Model: "latency", Validation: Metrics{Accuracy5: 0.9 + float64(i)/100}, Features: []string{"value"}},
			writeCkpt(t, dir, strings.Repeat("x", 10+i)))
		if err != nil {
			t.Fatal(err)
		}
		if in.Status != Candidate || in.CheckpointSize != int64(10+i) {
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
	in, _ := r.Add(Manifest{Model: "latency"}, writeCkpt(t, dir, "y"))
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
	in, _ = r.Add(Manifest{Model: "latency"}, writeCkpt(t, dir, "z"))
	if in.Version.String() != "v1.5.0" {
		t.Fatalf("after gc got %s", in.Version)
	}
	if _, err := r.Verify(""); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptCheckpointNeverServed(t *testing.T) {
	dir := t.TempDir()
	r, _ := Open(filepath.Join(dir, "reg"))
	a, _ := r.Add(Manifest{Model: "m"}, writeCkpt(t, dir, "good model one"))
	b, _ := r.Add(Manifest{Model: "m"}, writeCkpt(t, dir, "good model two"))
	if err := r.Promote("m", a.Version.String(), ""); err != nil {
		t.Fatal(err)
	}
	// Same size, one byte flipped: only the checksum can tell.
	if err := os.WriteFile(b.CheckpointPath, []byte("good model twO"), 0o644); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if err := r.Promote("m", b.Version.String(), ""); !errors.As(err, &ce) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("promote of a corrupt version: %v", err)
	}
	if _, err := r.Verify("m"); !errors.As(err, &ce) || ce.Version != "v1.1.0" {
		t.Fatalf("verify: %v", err)
	}
	// The Active one itself corrupted: Active refuses to hand it out.
	os.WriteFile(a.CheckpointPath, []byte("good model onE"), 0o644)
	if _, err := r.Active("m"); !errors.As(err, &ce) || ce.Version != "v1.0.0" {
		t.Fatalf("active: %v", err)
	}
}

func TestMissingCheckpointAndCorruptManifest(t *testing.T) {
	dir := t.TempDir()
	r, _ := Open(filepath.Join(dir, "reg"))
	a, _ := r.Add(Manifest{Model: "m"}, writeCkpt(t, dir, "one"))
	b, _ := r.Add(Manifest{Model: "m"}, writeCkpt(t, dir, "two"))
	c, _ := r.Add(Manifest{Model: "m"}, writeCkpt(t, dir, "three"))
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
	r, _ := Open(dir)
	r.Add(Manifest{Model: "m"}, writeCkpt(t, t.TempDir(), "one"))
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
	r, _ := Open(dir)
	if _, err := r.Add(Manifest{Model: "../evil"}, writeCkpt(t, t.TempDir(), "x")); err == nil {
		t.Error("path-like model name accepted")
	}
	if _, err := r.Add(Manifest{Model: "m"}, filepath.Join(dir, "nope")); err == nil {
		t.Error("missing checkpoint accepted")
	}
	if _, err := ParseVersion("1.2"); err == nil {
		t.Error("1.2 parsed")
	}
	r.Add(Manifest{Model: "m", Version: Version{2, 0, 0}}, writeCkpt(t, t.TempDir(), "x"))
	if _, err := r.Add(Manifest{Model: "m", Version: Version{1, 5, 0}}, writeCkpt(t, t.TempDir(), "x")); err == nil {
		t.Error("version older than the newest accepted")
	}
	if err := r.Promote("m", "v3.0.0", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("promote unknown: %v", err)
	}
}

func TestNonFiniteFiguresStored(t *testing.T) {
	r, _ := Open(t.TempDir())
	nan := math.NaN()
	in, err := r.Add(Manifest{Model: "m", Validation: Metrics{N: 3, MAE: nan, RMSE: math.Inf(1), Accuracy5: 0.5}}, writeCkpt(t, t.TempDir(), "x"))
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
