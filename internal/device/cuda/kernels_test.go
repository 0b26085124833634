package cuda

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

func TestKernelSourceEmbedded(t *testing.T) {
	if len(kernelSource) < 1000 {
		t.Fatalf("embedded kernel source has %d bytes", len(kernelSource))
	}
	defined := regexp.MustCompile(`extern "C" __global__ void (\w+)\(`).FindAllStringSubmatch(kernelSource, -1)
	var names []string
	for _, m := range defined {
		names = append(names, m[1])
	}
	for i, name := range kernelNames {
		if name == "" {
			t.Errorf("kernel %d has no name", i)
		} else if !slices.Contains(names, name) {
			t.Errorf("kernel %s is looked up but not defined in kernels.cu", name)
		}
	}
	for _, name := range names {
		if !slices.Contains(kernelNames[:], name) {
			t.Errorf("kernels.cu defines %s, which kernelNames does not list", name)
		}
	}
}

// kernelShim lets a host C++ compiler parse kernels.cu: the CUDA keywords
// become nothing, the built-in variables and intrinsics host declarations.
const kernelShim = `
#include <math.h>
struct pp_dim3 { unsigned x, y, z; };
extern pp_dim3 threadIdx, blockIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
inline void __syncthreads() {}
inline float __shfl_down_sync(unsigned, float v, int) { return v; }
inline unsigned int __float_as_uint(float x) { return (unsigned int)x; }
`

// TestKernelSourceParses compiles kernels.cu as host C++ with a shim, so
// that syntax and type errors show up without NVRTC or a GPU (NVRTC still
// compiles it for real at Open).
func TestKernelSourceParses(t *testing.T) {
	cxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("g++ not found: cannot parse kernels.cu on this machine")
	}
	dir := t.TempDir()
	shim := filepath.Join(dir, "shim.h")
	if err := os.WriteFile(shim, []byte(kernelShim), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(cxx, "-fsyntax-only", "-Wall", "-Werror", "-x", "c++", "-include", shim, "kernels.cu").CombinedOutput()
	if err != nil {
		t.Fatalf("kernels.cu does not compile as C++: %v\n%s", err, out)
	}
}
