//go:build cuda && cgo

package cuda

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"
)

// library is one shared library the backend loads.
type library struct {
	base     string   // "libcudart.so"
	versions []string // suffixes tried in order: ".13", ".12", ""
	table    int      // symbol table to fill (see pp_load), -1 for none
	optional bool     // a failure to load it is not an error
	driver   bool     // the driver: searched in the driver's directories too
}

// libraries in load order: libcublasLt before libcublas (which needs it),
// the NVRTC builtins before NVRTC (which dlopens them by soname later).
var libraries = []library{
	{base: "libcudart.so", versions: []string{".13", ".12", ""}, table: 0},
	{base: "libcublasLt.so", versions: []string{".13", ".12", ""}, table: -1, optional: true},
	{base: "libcublas.so", versions: []string{".13", ".12", ""}, table: 1},
	{base: "libnvrtc-builtins.so", versions: []string{".13.0", ".13", ".12", ""}, table: -1, optional: true},
	{base: "libnvrtc.so", versions: []string{".13", ".12", ""}, table: 2},
	{base: "libcuda.so", versions: []string{".1", ""}, table: 3, driver: true},
}

// Directories tried after the dynamic loader's own search path.
var (
	cudaLibDirs   = []string{"/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib"}
	driverLibDirs = []string{"/usr/local/nvidia/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib64"}
)

// LibsEnv names the environment variable with the library directory.
const LibsEnv = "PERFPREDICT_CUDA_LIBS"

// searchDirs lists where lib is looked for: "" is the dynamic loader's
// search path. With an override directory only that one is used for the
// CUDA libraries; the driver is looked for there first, then as usual.
func searchDirs(lib library, override string) []string {
	if override != "" {
		if lib.driver {
			return append([]string{override, ""}, driverLibDirs...)
		}
		return []string{override}
	}
	if lib.driver {
		return append([]string{""}, driverLibDirs...)
	}
	return append([]string{""}, cudaLibDirs...)
}

func describeDirs(dirs []string) string {
	names := make([]string, len(dirs))
	for i, d := range dirs {
		names[i] = d
		if d == "" {
			names[i] = "the dynamic loader's search path"
		}
	}
	return strings.Join(names, ", ")
}

// openLibrary dlopens the first version of lib found in dirs, preferring
// version prefer (the one cudart was found with) so that the libraries
// match. It returns the handle and the version loaded.
func openLibrary(lib library, dirs []string, prefer string) (unsafe.Pointer, string, error) {
	versions := lib.versions
	if prefer != "" {
		versions = append([]string{prefer}, versions...)
	}
	var firstErr string
	var tried []string
	for _, v := range versions {
		name := lib.base + v
		if containsString(tried, name) {
			continue
		}
		tried = append(tried, name)
		for _, dir := range dirs {
			path := name
			if dir != "" {
				path = filepath.Join(dir, name)
				if _, err := os.Stat(path); err != nil {
					continue // not here: no dlerror worth keeping
				}
			}
			h, err := dlopenPath(path)
			if err == nil {
				return h, v, nil
			}
			if dir != "" {
				// The file is there but does not load: say so at once.
				return nil, "", fmt.Errorf("cuda: cannot load %s: %v", path, err)
			}
			if firstErr == "" {
				firstErr = err.Error()
			}
		}
	}
	msg := fmt.Sprintf("cuda: %s not found in %s", tried[0], describeDirs(dirs))
	if len(tried) > 1 {
		msg += " (also tried " + strings.Join(tried[1:], ", ") + ")"
	}
	if firstErr != "" {
		msg += ": " + firstErr
	}
	if !lib.driver {
		msg += "; set " + LibsEnv + " to the directory holding the CUDA libraries"
	} else {
		msg += "; is the NVIDIA driver installed?"
	}
	return nil, "", fmt.Errorf("%s", msg)
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// loadAll loads every library from the override directory (or the usual
// places) and fills the symbol tables: the process's when private is false.
func loadAll(override string, private bool) error {
	prefer := ""
	for _, lib := range libraries {
		h, v, err := openLibrary(lib, searchDirs(lib, override), prefer)
		if err != nil {
			if lib.optional {
				continue
			}
			return err
		}
		if lib.table == 0 {
			prefer = v
		}
		if lib.table >= 0 {
			if missing := loadSymbols(lib.table, h, private); missing != "" {
				return fmt.Errorf("cuda: %s%s lacks %s: the library is too old or not CUDA's", lib.base, v, missing)
			}
		}
	}
	return nil
}

var (
	loadMu  sync.Mutex
	loaded  bool
	loadDir string
)

// loadLibraries loads the libraries into the process's tables once; a
// failure is returned and retried on the next call (the environment may
// have been fixed).
func loadLibraries() error {
	loadMu.Lock()
	defer loadMu.Unlock()
	dir := os.Getenv(LibsEnv)
	if loaded {
		if dir != loadDir {
			return fmt.Errorf("cuda: libraries already loaded from %q; %s=%q cannot change that within a process", loadDir, LibsEnv, dir)
		}
		return nil
	}
	if err := loadAll(dir, false); err != nil {
		return err
	}
	loaded, loadDir = true, dir
	return nil
}
