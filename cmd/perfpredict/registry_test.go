package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegistryCommand(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "reg")
	ck := filepath.Join(dir, "m.safetensors")
	os.WriteFile(ck, []byte("weights"), 0o644)
	for i := 0; i < 3; i++ {
		if code, _, errs := runCmd("registry", "add", "--dir", reg, "--model", "latency", "--checkpoint", ck, "--features", "value,cpu"); code != 0 {
			t.Fatalf("add: %d %s", code, errs)
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
		} `json:"versions"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Versions) != 3 {
		t.Fatalf("list: %d %s", code, out)
	}
	want := []string{"v1.0.0 Deprecated", "v1.1.0 Active", "v1.2.0 Deprecated"}
	for i, v := range list.Versions {
		if got := v.Version + " " + v.Status; got != want[i] {
			t.Errorf("list[%d] = %s, want %s", i, got, want[i])
		}
	}
	code, out, _ = runCmd("registry", "list", "--dir", reg)
	if code != 0 || !strings.Contains(out, "MODEL    VERSION  DATE") || !strings.Contains(out, "v1.1.0   ") {
		t.Fatalf("table: %s", out)
	}
	code, out, _ = runCmd("registry", "show", "--dir", reg, "--model", "latency", "--version", "v1.1.0")
	if code != 0 || !strings.Contains(out, "features:   value, cpu") || !strings.Contains(out, "rolled back") {
		t.Fatalf("show: %s", out)
	}

	// Bad usage and unknown names: exit 2 with a one-line message.
	for _, args := range [][]string{
		{"registry"},
		{"registry", "frob", "--dir", reg},
		{"registry", "list"},
		{"registry", "promote", "--dir", reg, "--model", "latency"},
		{"registry", "promote", "--dir", reg, "--model", "latency", "--version", "v7.0.0"},
		{"registry", "show", "--dir", reg, "--model", "nope", "--version", "v1.0.0"},
		{"registry", "add", "--dir", reg, "--model", "latency", "--checkpoint", ck, "--version", "1.2"},
	} {
		if code, _, errs := runCmd(args...); code != 2 || !strings.HasPrefix(errs, "perfpredict registry: ") && !strings.Contains(errs, "usage:") {
			t.Errorf("%v: exit %d, %q", args, code, errs)
		}
	}
	// A corrupt checkpoint: verify exits 1 naming the version; promote refuses.
	os.WriteFile(filepath.Join(reg, "versions", "latency", "v1.2.0", "model.safetensors"), []byte("weightZ"), 0o644)
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
