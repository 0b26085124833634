//go:build !cuda || !cgo

package cuda

import (
	"errors"

	"github.com/novacron/perfpredict/internal/device"
)

// ErrNotBuilt is Open's error in a build without the CUDA backend.
var ErrNotBuilt = errors.New("cuda: built without -tags cuda (cgo); rebuild with CGO_ENABLED=1 go build -tags cuda")

// Open reports that the backend is not in this build.
func Open() (device.Device, error) { return nil, ErrNotBuilt }

// OpenPrecision reports that the backend is not in this build.
func OpenPrecision(Precision) (device.Device, error) { return nil, ErrNotBuilt }
