// Package asm holds the float32 kernels the numeric core is built on: dot,
// axpy, scale, element-wise sigmoid and tanh, the fused LSTM cell (forward and
// backward) and the GEMM micro-kernels; and, for reduced-precision
// inference, a GEMM of bfloat16 operands with float32 sums (bf16.go), whose
// AVX512_BF16 kernels are installed at the AVX-512 level of a CPU that has
// the instructions (BF16Implementation names the path), and one of int8
// operands with int32 sums (int8.go, AVX512_VNNI, Int8Implementation).
//
// Every kernel has a pure-Go reference whose doc comment is the loop it
// computes; on amd64 it also has AVX2+FMA and AVX-512 implementations in Go
// assembly. The CPU's features are read once at start-up and the fastest
// supported implementation is installed into function variables. The
// environment variable PERFPREDICT_CPU=generic|avx2|avx512 forces a lower
// level (for tests and benchmarks); building with -tags purego, or on another
// architecture, leaves only the Go reference.
//
// Shape errors (a slice shorter than the length the kernel is asked to
// process) panic with an "asm: " prefixed message: they are programming
// errors of the caller, never a consequence of user data.
package asm

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// Level is an instruction-set level that a kernel implementation targets.
type Level int

const (
	// Generic is the pure-Go reference, available everywhere.
	Generic Level = iota
	// AVX2 is AVX2 with FMA3 on amd64.
	AVX2
	// AVX512 is AVX-512 F/VL/DQ/BW on amd64.
	AVX512
)

// String names the level as PERFPREDICT_CPU spells it.
func (l Level) String() string {
	switch l {
	case Generic:
		return "generic"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel reads a level as PERFPREDICT_CPU spells it.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "generic", "go", "purego":
		return Generic, nil
	case "avx2":
		return AVX2, nil
	case "avx512", "avx-512":
		return AVX512, nil
	}
	return Generic, fmt.Errorf("asm: unknown CPU level %q (want generic, avx2 or avx512)", s)
}

var (
	// hardware is the best level this CPU and build support, read once.
	hardware = detect()

	mu      sync.Mutex
	setters []func(Level)

	// active is set before any init function runs, so that register
	// installs the right level whichever file's init calls it first.
	active, envErr = startLevel()
)

// startLevel is the hardware level, lowered by PERFPREDICT_CPU.
func startLevel() (Level, error) {
	l := hardware
	if s, ok := os.LookupEnv("PERFPREDICT_CPU"); ok && s != "" {
		e, err := ParseLevel(s)
		switch {
		case err != nil:
			return l, err
		case e < l:
			l = e
		}
	}
	return l, nil
}

// register installs a kernel family's implementations: set is called now with
// the active level and again whenever SetLevel changes it. Kernel files call it
// from their init functions.
func register(set func(Level)) {
	mu.Lock()
	defer mu.Unlock()
	setters = append(setters, set)
	set(active)
}

// Implementation names the active implementation, e.g. "avx512".
func Implementation() string { return ActiveLevel().String() }

// ActiveLevel is the level whose kernels are installed now.
func ActiveLevel() Level {
	mu.Lock()
	defer mu.Unlock()
	return active
}

// HardwareLevel is the best level this CPU and build support.
func HardwareLevel() Level { return hardware }

// EnvError reports an unparsable PERFPREDICT_CPU value (which is otherwise
// ignored), so that a command can tell its user.
func EnvError() error { return envErr }

// Supported lists the levels this machine can run, lowest first.
func Supported() []Level {
	out := []Level{}
	for l := Generic; l <= hardware; l++ {
		out = append(out, l)
	}
	return out
}

// SetLevel installs the kernels of level l and returns the level that was
// active before. It is meant for tests and benchmarks that compare
// implementations; it must not run concurrently with kernel calls.
func SetLevel(l Level) (previous Level, err error) {
	if l < Generic || l > hardware {
		return ActiveLevel(), fmt.Errorf("asm: level %v not supported here (best is %v)", l, hardware)
	}
	mu.Lock()
	defer mu.Unlock()
	previous = active
	active = l
	for _, set := range setters {
		set(l)
	}
	return previous, nil
}
