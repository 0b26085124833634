// Package fakecuda builds the fake CUDA library the CUDA backend's tests use
// on machines without a GPU (internal/device/cuda/testdata/fakecuda.cc, which
// runs kernels.cu as host code), for the tests of every package that loads
// the backend. It imports nothing of this module, so the backend's own tests
// can use it too.
package fakecuda

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Sonames are the names the loader looks for, the ones Build links.
var Sonames = []string{"libcudart.so.13", "libcublas.so.13", "libnvrtc.so.13", "libcuda.so.1"}

// Build compiles source (C, or C++20 when it ends in .cc) into one shared
// library in dir and links it under every soname in Sonames: links, not
// copies, so that the dynamic loader loads the file once and the
// "libraries" share its state (capture, the launch geometry). It skips the
// test when the compiler is missing.
func Build(t testing.TB, dir, source string) {
	t.Helper()
	compiler, args := "gcc", []string{"-shared", "-fPIC"}
	if strings.HasSuffix(source, ".cc") {
		compiler, args = "g++", []string{"-std=c++20", "-O1", "-shared", "-fPIC", "-pthread"}
	}
	cc, err := exec.LookPath(compiler)
	if err != nil {
		t.Skipf("%s not found: cannot build the fake CUDA libraries", compiler)
	}
	so := filepath.Join(dir, "fake.so")
	if out, err := exec.Command(cc, append(args, "-o", so, source)...).CombinedOutput(); err != nil {
		t.Fatalf("building the fake CUDA: %v\n%s", err, out)
	}
	for _, name := range Sonames {
		if err := os.Symlink(so, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}
