//go:build !amd64 || purego

package asm

func detect() Level { return Generic }
