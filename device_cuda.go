//go:build cuda

package perfpredict

// A build with -tags cuda links the CUDA backend in: importing it registers
// device "cuda" for Config.Device (without cgo, its stub, whose error says
// that the backend needs CGO_ENABLED=1). The default build stays pure Go.
import _ "github.com/novacron/perfpredict/internal/device/cuda"
