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

// deviceFlag defines --device on fs.
func deviceFlag(fs *flag.FlagSet) *string {
	return fs.String("device", perfpredict.DeviceCPU,
		"where the model runs: cpu, cuda (an NVIDIA GPU; needs a build with -tags cuda) or auto (the GPU when one is usable, otherwise the CPU with a line on stderr)")
}

// checkDevice normalises the --device value; an unknown name is a usage
// error (exit 2).
func checkDevice(name string) (string, error) {
	switch n := strings.ToLower(strings.TrimSpace(name)); n {
	case perfpredict.DeviceCPU, perfpredict.DeviceCUDA, perfpredict.DeviceAuto:
		return n, nil
	}
	return "", usagef("--device: %q is not cpu, cuda or auto", name)
}

// deviceLogf writes the model's log lines (auto's fallback to the CPU) to
// the command's standard error.
func deviceLogf(env *cmdEnv) func(format string, args ...any) {
	return func(format string, args ...any) {
		fmt.Fprintf(env.stderr, strings.TrimSuffix(format, "\n")+"\n", args...)
	}
}

// useDevice moves loaded models to device. With auto, once a model has
// fallen back to the CPU (one line on stderr) the others stay there without
// another line.
func useDevice(env *cmdEnv, device string, ms ...*perfpredict.Model) error {
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
