//go:build !amd64 || purego

package asm

func detectInt8() bool { return false }

func int8For(Level) int8Impl { return int8Impl{} }
