//go:build !amd64 || purego

package asm

func gemmDirectScratch(*gemmImpl, bool, int, int, *float32, *float32, int, *[gemmMaxMR * gemmMaxNR]float32, float32) {
	panic("asm: no direct scratch kernel without assembly")
}
