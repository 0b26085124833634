package main

import (
	"flag"
	"fmt"
	"strings"

	perfpredict "github.com/novacron/perfpredict"
)

// --device of the commands that run a model (train, evaluate, predict,
// degradation, explain): where the network runs. "cpu" is the pure-Go
// path; "cuda" an NVIDIA GPU in a build with -tags cuda, failing with the
// loader's message otherwise (exit 1); "auto" the GPU when one is usable,
// else the CPU with one line on stderr.

// deviceFlag is a command's --device.
type deviceFlag struct{ name *string }

// newDeviceFlag defines --device on fs.
func newDeviceFlag(fs *flag.FlagSet) deviceFlag {
	return deviceFlag{fs.String("device", perfpredict.DeviceCPU,
		"where the model runs: cpu, cuda (an NVIDIA GPU; needs a build with -tags cuda) or auto (the GPU when one is usable, otherwise the CPU with a line on stderr)")}
}

// get is the normalised device name; an unknown one is a usage error
// (exit 2).
func (d deviceFlag) get() (string, error) {
	switch n := strings.ToLower(strings.TrimSpace(*d.name)); n {
	case perfpredict.DeviceCPU, perfpredict.DeviceCUDA, perfpredict.DeviceAuto:
		return n, nil
	}
	return "", usagef("--device: %q is not cpu, cuda or auto", *d.name)
}

// use moves loaded models to the device. With auto, once a model has
// fallen back to the CPU (one line on stderr) the others stay there
// without another line. A device that cannot be used (no GPU) is an error
// with the loader's message (exit 1).
func (d deviceFlag) use(env *cmdEnv, ms ...*perfpredict.Model) error {
	device, err := d.get()
	if err != nil {
		return err
	}
	logf := deviceLogf(env)
	for _, m := range ms {
		if device == perfpredict.DeviceCPU {
			return nil
		}
		if err := m.UseDevice(device, logf); err != nil {
			return fmt.Errorf("--device %s: %w", device, err)
		}
		if device == perfpredict.DeviceAuto && m.Device() == perfpredict.DeviceCPU {
			device = perfpredict.DeviceCPU
		}
	}
	return nil
}

// loadModel loads the checkpoint at path (a bad one is a usage error) onto
// the --device.
func loadModel(env *cmdEnv, path string, device deviceFlag) (*perfpredict.Model, error) {
	if _, err := device.get(); err != nil {
		return nil, err
	}
	m, err := perfpredict.Load(path)
	if err != nil {
		return nil, usageErr(err)
	}
	return m, device.use(env, m)
}

// deviceLogf writes the model's log lines (auto's fallback to the CPU) to
// the command's standard error.
func deviceLogf(env *cmdEnv) func(format string, args ...any) {
	return func(format string, args ...any) {
		fmt.Fprintf(env.stderr, strings.TrimSuffix(format, "\n")+"\n", args...)
	}
}
