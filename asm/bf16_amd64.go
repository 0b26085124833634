//go:build amd64 && !purego

package asm

import "github.com/klauspost/cpuid/v2"

func detectBF16() bool {
	return hardware == AVX512 && cpuid.CPU.Supports(cpuid.AVX512BF16)
}

// bf16For is the bf16 kernel family of level l: the AVX512_BF16 kernels at
// the AVX-512 level of a CPU that has them, the Go twins otherwise.
func bf16For(l Level) bf16Impl {
	if l == AVX512 && bf16Hardware {
		return bf16Impl{kern: &bf16Kernels, wide: &bf16WideKernels, wideN: &bf16WideN, convert: bf16ConvertAVX512}
	}
	return bf16Impl{}
}
