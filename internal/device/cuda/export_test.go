//go:build cuda && cgo

package cuda

// BuildFake builds the fake CUDA library for the external tests.
var BuildFake = buildFake
