//go:build !amd64 || purego

package asm

func gemmImplFor(Level) gemmImpl { return gemmImpl{mr: 4, nr: gemmGoNR} }

func gemvFor(Level) gemvFunc { return nil }
