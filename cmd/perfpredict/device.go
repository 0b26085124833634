package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/forecast"
)

// --device of the commands that run a forecaster (train, evaluate,
// predict, degradation, explain, monitor): where the networks run. "cpu"
// is the pure-Go path; "cuda" an NVIDIA GPU in a build with -tags cuda,
// failing with the loader's message otherwise (exit 1); "auto" the GPU
// when one is usable, else the CPU with one line on stderr.
//
// On a GPU, PERFPREDICT_CUDA_PRECISION (fp32 default, tf32 or bf16) sets the
// arithmetic of the matrix products: the command reads the variable and
// passes it to the library as the networks' Config.Precision (the library
// reads no environment). PERFPREDICT_PRECISION does the same on every
// device, the CPU included, and wins over it: on the CPU bf16 runs the
// LSTM's products in bfloat16 and int8 in int8 (a CPU without AVX512_BF16,
// or AVX512_VNNI, is an error naming it), tf32 runs as fp32. An unknown value, or a precision the CPU lacks, is
// a usage error (exit 2) naming the variable.

// precisionEnv names the environment variable of the GPU's precision;
// anyPrecisionEnv that of every device's.
const (
	precisionEnv    = "PERFPREDICT_CUDA_PRECISION"
	anyPrecisionEnv = "PERFPREDICT_PRECISION"
)

// trainingPrecision is the precision train and crossval give the networks
// they train on device: PERFPREDICT_PRECISION on any device,
// PERFPREDICT_CUDA_PRECISION only off the CPU (on the CPU a GPU's setting
// must neither apply nor fail).
func trainingPrecision(device string) string {
	if p := os.Getenv(anyPrecisionEnv); p != "" {
		return p
	}
	if device == "" || device == perfpredict.DeviceCPU {
		return ""
	}
	return os.Getenv(precisionEnv)
}

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

// openForecaster opens the artifact at path, the one file train writes
// (a missing, corrupt or newer one is a usage error, exit 2, naming the
// file and the part at fault), and moves its networks to --device (a
// device that cannot be used is an error with the loader's message, exit
// 1; auto falls back to the CPU with one line on stderr for the whole
// ensemble). Every serving command opens its forecaster here.
func openForecaster(env *cmdEnv, path string, device deviceFlag) (*forecast.Forecaster, error) {
	dev, err := device.get()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, usagef("--model is required (the forecaster artifact perfpredict train writes)")
	}
	fc, err := forecast.Open(path)
	if err != nil {
		return nil, usageErr(err)
	}
	pvar, p := precisionEnv, os.Getenv(precisionEnv)
	if dev == perfpredict.DeviceCPU {
		p = ""
	}
	if q := os.Getenv(anyPrecisionEnv); q != "" {
		pvar, p = anyPrecisionEnv, q
	}
	setPrecision := func() error {
		if p == "" {
			return nil
		}
		for i := range fc.Members() {
			if err := fc.Network(i).SetPrecision(p); err != nil {
				fc.Close()
				return usagef("%s: %w", pvar, err)
			}
		}
		return nil
	}
	if dev == perfpredict.DeviceCPU {
		if err := setPrecision(); err != nil {
			return nil, err
		}
		return fc, nil
	}
	if err := fc.UseDevice(dev, stderrLogf(env)); err != nil {
		fc.Close()
		return nil, fmt.Errorf("--device %s: %w", dev, err)
	}
	// After the move: a GPU's precision is not the CPU's to refuse.
	if err := setPrecision(); err != nil {
		return nil, err
	}
	return fc, nil
}
