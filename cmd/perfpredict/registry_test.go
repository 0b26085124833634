package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// registryArtifact trains a forecaster small enough for a test (tens of
// milliseconds) and saves it as `train --out` would.
func registryArtifact(t *testing.T) string {
	t.Helper()
	o := forecast.DefaultOptions()
	o.Window, o.ScaleWindow, o.Horizon = 8, 16, 4
	o.Hidden, o.Head, o.Epochs, o.Ensemble, o.SwitchTrees = 4, []int{8}, 2, 1, nil
	s := baseline.Series{Name: "latency", Values: make([]float64, 300)}
	for i := range s.Values {
		s.Values[i] = 100 + 10*math.Sin(float64(i)/4)
	}
	fc, err := forecast.Train(context.Background(), []baseline.Series{s}, o)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "forecaster.zip")
	if err := fc.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRegistryCommand(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "reg")
	art := registryArtifact(t)
	fc, err := forecast.Open(art)
	if err != nil {
		t.Fatal(err)
	}
	r := fc.Recipe()
	added := fmt.Sprintf("h = 1..%d, %d networks", r.Horizon, fc.Members())
	for i := 0; i < 3; i++ {
		if code, out, errs := runCmd("registry", "add", "--dir", reg, "--model", "latency", "--artifact", art, "--features", "value,cpu"); code != 0 || !strings.Contains(out, added) {
			t.Fatalf("add: %d %s %s", code, out, errs)
		}
	}
	for _, v := range []string{"v1.0.0", "v1.1.0", "1.2.0"} {
		if code, _, errs := runCmd("registry", "promote", "--dir", reg, "--model", "latency", "--version", v); code != 0 {
			t.Fatalf("promote %s: %d %s", v, code, errs)
		}
	}
	code, out, errs := runCmd("registry", "rollback", "--dir", reg, "--model", "latency", "--json")
	if code != 0 || !strings.Contains(out, `"active": "v1.1.0"`) {
		t.Fatalf("rollback: %d %s %s", code, out, errs)
	}
	code, out, _ = runCmd("registry", "list", "--dir", reg, "--json")
	var list struct {
		Versions []struct {
			Version string `json:"version"`
			Status  string `json:"status"`
			Recipe  struct {
				Horizon int `json:"horizon"`
			} `json:"recipe"`
		} `json:"versions"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Versions) != 3 {
		t.Fatalf("list: %d %s", code, out)
	}
	want := []string{"v1.0.0 Deprecated", "v1.1.0 Active", "v1.2.0 Deprecated"}
	for i, v := range list.Versions {
		if got := v.Version + " " + v.Status; got != want[i] || v.Recipe.Horizon != r.Horizon {
			t.Errorf("list[%d] = %s (horizon %d), want %s", i, got, v.Recipe.Horizon, want[i])
		}
	}
	code, out, _ = runCmd("registry", "list", "--dir", reg)
	if code != 0 || !strings.Contains(out, "MODEL    VERSION  DATE") || !strings.Contains(out, "v1.1.0   ") {
		t.Fatalf("table: %s", out)
	}
	code, out, _ = runCmd("registry", "show", "--dir", reg, "--model", "latency", "--version", "v1.1.0")
	if code != 0 || !strings.Contains(out, "features:   value, cpu") || !strings.Contains(out, "rolled back") ||
		!strings.Contains(out, fmt.Sprintf("forecaster: h = 1..%d, window %d, needs %d observations, %d networks", r.Horizon, r.Window, fc.Needs(), fc.Members())) {
		t.Fatalf("show: %s", out)
	}

	// Bad usage, unknown names, files that are not forecaster artifacts:
	// exit 2 with a one-line message.
	notArtifact := filepath.Join(dir, "model.safetensors")
	os.WriteFile(notArtifact, []byte("weights"), 0o644)
	for _, args := range [][]string{
		{"registry"},
		{"registry", "frob", "--dir", reg},
		{"registry", "list"},
		{"registry", "promote", "--dir", reg, "--model", "latency"},
		{"registry", "promote", "--dir", reg, "--model", "latency", "--version", "v7.0.0"},
		{"registry", "show", "--dir", reg, "--model", "nope", "--version", "v1.0.0"},
		{"registry", "add", "--dir", reg, "--model", "latency", "--artifact", art, "--version", "1.2"},
		{"registry", "add", "--dir", reg, "--model", "latency", "--artifact", notArtifact},
	} {
		if code, _, errs := runCmd(args...); code != 2 || !strings.HasPrefix(errs, "perfpredict registry: ") && !strings.Contains(errs, "usage:") {
			t.Errorf("%v: exit %d, %q", args, code, errs)
		}
	}
	// A corrupt artifact: verify exits 1 naming the version; promote refuses.
	p := filepath.Join(reg, "versions", "latency", "v1.2.0", "forecaster.zip")
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	os.WriteFile(p, b, 0o644)
	code, out, errs = runCmd("registry", "verify", "--dir", reg)
	if code != 1 || !strings.Contains(errs, "latency v1.2.0 is corrupt: checkpoint checksum mismatch") {
		t.Fatalf("verify: %d %s %s", code, out, errs)
	}
	if code, _, errs := runCmd("registry", "promote", "--dir", reg, "--model", "latency", "--version", "v1.2.0"); code != 1 || !strings.Contains(errs, "refusing to activate") {
		t.Fatalf("promote corrupt: %d %s", code, errs)
	}
	code, out, _ = runCmd("registry", "gc", "--dir", reg, "--keep-deprecated", "0", "--keep-candidates", "0", "--json")
	if code != 0 || !strings.Contains(out, "latency/v1.2.0") {
		t.Fatalf("gc: %d %s", code, out)
	}
}

// TestRegistryMissingDir: every action but add on a mistyped directory
// exits 2 saying there is no registry there, and leaves nothing behind
// (issue 15, defect 4: list and verify used to create an empty registry and
// exit 0). add on a directory holding other files refuses too.
func TestRegistryMissingDir(t *testing.T) {
	base := t.TempDir()
	typo := filepath.Join(base, "regsitry")
	for _, args := range [][]string{
		{"list"}, {"list", "--json"}, {"verify"}, {"verify", "--model", "latency"},
		{"show", "--model", "latency", "--version", "v1.0.0"},
		{"promote", "--model", "latency", "--version", "v1.0.0"},
		{"rollback", "--model", "latency"},
		{"deprecate", "--model", "latency", "--version", "v1.0.0"},
		{"gc"},
	} {
		all := append([]string{"registry", args[0], "--dir", typo}, args[1:]...)
		code, out, errs := runCmd(all...)
		if code != 2 || out != "" || !strings.Contains(errs, "no model registry in "+typo) || !strings.Contains(errs, "only `registry add` creates") ||
			strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
		if _, err := os.Stat(typo); !os.IsNotExist(err) {
			t.Fatalf("%v created %s", args, typo)
		}
	}
	other := filepath.Join(base, "home")
	os.Mkdir(other, 0o755)
	os.WriteFile(filepath.Join(other, "notes.txt"), []byte("x"), 0o644)
	art := registryArtifact(t)
	if code, _, errs := runCmd("registry", "list", "--dir", other); code != 2 || !strings.Contains(errs, "no model registry") {
		t.Errorf("list on a directory without a registry: %d %q", code, errs)
	}
	if code, _, errs := runCmd("registry", "add", "--dir", other, "--model", "m", "--artifact", art); code == 0 || !strings.Contains(errs, "notes.txt") {
		t.Errorf("add among other files: %d %q", code, errs)
	}
	if ents, _ := os.ReadDir(other); len(ents) != 1 {
		t.Errorf("%s holds %d entries", other, len(ents))
	}
	// add creates one where there is none; list then reads it.
	if code, _, errs := runCmd("registry", "add", "--dir", typo, "--model", "m", "--artifact", art); code != 0 {
		t.Fatalf("add: %d %s", code, errs)
	}
	if code, out, _ := runCmd("registry", "list", "--dir", typo); code != 0 || !strings.Contains(out, "v1.0.0") {
		t.Fatalf("list: %d %s", code, out)
	}
}
