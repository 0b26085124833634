//go:build amd64 && !purego

package asm

import "github.com/klauspost/cpuid/v2"

func detectInt8() bool {
	return hardware == AVX512 && cpuid.CPU.Supports(cpuid.AVX512VNNI)
}

// int8For is the int8 kernel family of level l: the AVX512_VNNI kernels at
// the AVX-512 level of a CPU that has them, the Go twins otherwise.
func int8For(l Level) int8Impl {
	if l == AVX512 && int8Hardware {
		return int8Impl{kern: &int8Kernels, wide: &int8WideKernels, wideN: &bf16WideN, quant: quantU8AVX512}
	}
	return int8Impl{}
}
