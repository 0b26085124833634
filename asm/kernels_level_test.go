package asm

import (
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestParseLevel(t *testing.T) {
	for s, want := range map[string]Level{
		"generic": Generic, "go": Generic, "purego": Generic, " AVX2 ": AVX2, "avx512": AVX512, "AVX-512": AVX512,
	} {
		got, err := ParseLevel(s)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", s, got, err, want)
		}
		if again, err := ParseLevel(got.String()); err != nil || again != got {
			t.Errorf("ParseLevel(%v.String()) = %v, %v", got, again, err)
		}
	}
	for _, s := range []string{"", "sse", "avx", "avx1024"} {
		if _, err := ParseLevel(s); err == nil {
			t.Errorf("ParseLevel(%q) accepted", s)
		}
	}
}

// implName is the name of the function installed in an implementation
// variable, e.g. "sigmoidAVX2".
func implName(f any) string {
	name := runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
	return name[strings.LastIndex(name, ".")+1:]
}

// TestSetLevelInstallsKernels checks that SetLevel swaps every kernel to the
// level's implementation and refuses levels the CPU lacks.
func TestSetLevelInstallsKernels(t *testing.T) {
	suffix := map[Level]string{Generic: "Generic", AVX2: "AVX2", AVX512: "AVX512"}
	forEachLevel(t, func(t *testing.T) {
		l := ActiveLevel()
		for _, f := range []any{dotImpl, axpyImpl, scaleImpl, sigmoidImpl, tanhImpl, cellFwdImpl, cellBwdImpl} {
			if name := implName(f); !strings.HasSuffix(name, suffix[l]) {
				t.Errorf("level %v has %s installed", l, name)
			}
		}
	})
	if _, err := SetLevel(HardwareLevel() + 1); err == nil {
		t.Errorf("SetLevel(%v) above the hardware level %v succeeded", HardwareLevel()+1, HardwareLevel())
	}
}

// TestEnvLevel runs this test binary again with PERFPREDICT_CPU set and
// checks which implementation it starts with.
func TestEnvLevel(t *testing.T) {
	if os.Getenv("PERFPREDICT_ASM_CHILD") == "1" {
		fmt.Printf("impl=%s err=%v\n", Implementation(), EnvError() != nil)
		return
	}
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	hw := HardwareLevel()
	for env, want := range map[string]string{
		"generic": "impl=generic err=false",
		"avx2":    fmt.Sprintf("impl=%v err=false", min(AVX2, hw)),
		"avx512":  fmt.Sprintf("impl=%v err=false", min(AVX512, hw)),
		"bogus":   fmt.Sprintf("impl=%v err=true", hw),
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEnvLevel$", "-test.count=1")
		cmd.Env = append(os.Environ(), "PERFPREDICT_ASM_CHILD=1", "PERFPREDICT_CPU="+env)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("PERFPREDICT_CPU=%s: %v\n%s", env, err, out)
		}
		if !strings.Contains(string(out), want) {
			t.Errorf("PERFPREDICT_CPU=%s: child printed %q, want %q", env, out, want)
		}
	}
}
