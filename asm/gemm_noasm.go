//go:build !amd64 || purego

package asm

func gemmImplFor(Level) gemmImpl { return gemmImpl{mr: 4, nr: gemmGoNR} }

func gemvFor(Level) gemvFunc { return nil }

func packFor(Level) (transpose8Func, copyRowsFunc, copyPanelsFunc) { return nil, nil, nil }

func gemmScratch(*gemmImpl, int, int, *float32, *float32, *[gemmMaxMR * gemmMaxNR]float32, float32) {
	panic("asm: no scratch kernel without assembly")
}

func transpose8(int, *[8]*float32, *float32, int) { panic("asm: no transpose kernel without assembly") }
