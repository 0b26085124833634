//go:build !amd64 || purego

package asm

func detectBF16() bool { return false }

func bf16For(Level) bf16Impl { return bf16Impl{} }
