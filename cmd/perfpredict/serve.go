package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/lifecycle"
	"github.com/novacron/perfpredict/lifecycle/live"
	"github.com/novacron/perfpredict/serve"
	"github.com/novacron/perfpredict/serve/httpapi"
)

func init() {
	register(&command{name: "serve", summary: "serve forecasts over HTTP (JSON API, /metrics, hot reload of a registry's Active version)", run: runServe})
}

// serveFlags are the HTTP service's flags, shared by serve and run.
type serveFlags struct {
	addr        *string
	maxBody     *int64
	maxInFlight *int
	timeout     *time.Duration
	grace       *time.Duration
	poll        *time.Duration
	follow      *bool
}

func addServeFlags(fs interface {
	String(string, string, string) *string
	Int64(string, int64, string) *int64
	Int(string, int, string) *int
	Duration(string, time.Duration, string) *time.Duration
	Bool(string, bool, string) *bool
}) serveFlags {
	return serveFlags{
		addr:        fs.String("addr", "127.0.0.1:8080", "listen address (`host:port`; port 0 picks a free one, printed on stderr)"),
		maxBody:     fs.Int64("max-body", 1<<20, "largest request body in bytes (larger: 413)"),
		maxInFlight: fs.Int("max-in-flight", 0, "forecasts computed at once; more wait in a bounded queue, then 503 (0: 4 x cores)"),
		timeout:     fs.Duration("timeout", 2*time.Second, "the model's deadline per forecast, past which the Holt-Winters fallback answers"),
		grace:       fs.Duration("grace", 30*time.Second, "on SIGTERM, how long requests in flight may take to finish"),
		poll:        fs.Duration("poll", 5*time.Second, "how often the registry is checked for a new Active version"),
		follow: fs.Bool("switch", true, fmt.Sprintf("answer {\"series\": NAME} requests with a switch per series (train's switch row: the model, a ridge autoregression of the series, "+
			"the switch trees or an average of them, whichever erred less on it lately), fitted on its last %d points (28 days at 5 minutes, or what Prometheus keeps); --switch=false: the model alone", serve.FollowerHistory)),
	}
}

func (f serveFlags) check() error {
	if *f.maxBody < 1 {
		return usagef("--max-body: must be positive, got %d", *f.maxBody)
	}
	if *f.maxInFlight < 0 {
		return usagef("--max-in-flight: must be >= 0, got %d", *f.maxInFlight)
	}
	if *f.timeout <= 0 || *f.grace <= 0 || *f.poll <= 0 {
		return usagef("--timeout, --grace and --poll must be positive")
	}
	return nil
}

func (f serveFlags) options(env *cmdEnv) httpapi.Options {
	return httpapi.Options{MaxBody: *f.maxBody, MaxInFlight: *f.maxInFlight,
		Predictor: serve.Options{Timeout: *f.timeout}, Switch: *f.follow,
		Logf: func(format string, args ...any) { fmt.Fprintf(env.stderr, "serve: "+format+"\n", args...) }}
}

// listen opens addr and says where on stderr ("serve: listening on
// http://HOST:PORT"), which scripts and tests read for port 0.
func (f serveFlags) listen(env *cmdEnv) (net.Listener, error) {
	ln, err := net.Listen("tcp", *f.addr)
	if err != nil {
		return nil, usagef("--addr %s: %v", *f.addr, err)
	}
	fmt.Fprintf(env.stderr, "serve: listening on http://%s\n", ln.Addr())
	return ln, nil
}

func runServe(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("serve", env)
	modelPath := fs.String("model", "", "forecaster artifact to serve (`forecaster.zip`); or --registry")
	regDir := fs.String("registry", "", "serve the Active version of a model registry `dir` (perfpredict registry), reloading it when it changes")
	name := fs.String("name", "", "the model's name in --registry (default: its only model)")
	promURL := fs.String("prometheus", "", "Prometheus base `URL` answering {\"series\": NAME} requests (NAME: a PromQL selector of one series)")
	step := fs.Duration("step", 5*time.Minute, "with --prometheus: the series' cadence, the spacing of the points fetched")
	sf := addServeFlags(fs)
	device := newDeviceFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*modelPath == "") == (*regDir == "") {
		return usagef("give --model or --registry (one of them)")
	}
	if err := sf.check(); err != nil {
		return err
	}
	opt := sf.options(env)
	if *promURL != "" {
		if *step < time.Millisecond {
			return usagef("--step: at least 1ms, got %v", *step)
		}
		// On the multiples of the step, so that each request's points
		// continue the last one's (the switch follows them).
		opt.Source, opt.Step = live.Prometheus(*promURL, *step), *step
	}
	h, err := httpapi.New(opt)
	if err != nil {
		return err
	}
	defer h.Close()
	var wg sync.WaitGroup
	fctx, stop := context.WithCancel(ctx)
	defer func() { stop(); wg.Wait() }()
	if *modelPath != "" {
		fc, err := openForecaster(env, *modelPath, device)
		if err != nil {
			return err
		}
		if err := h.Load(fc, ""); err != nil {
			fc.Close()
			return fmt.Errorf("%s: %w", *modelPath, err)
		}
	} else {
		if dev, err := device.get(); err != nil || dev != perfpredict.DeviceCPU {
			// Versions loaded from the registry run on the CPU.
			return usagef("--device %s: with --registry the versions run on the CPU; --device applies to --model", *device.name)
		}
		reg, model, err := openRegistryModel(*regDir, *name)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.Follow(fctx, reg, model, *sf.poll)
		}()
	}
	ln, err := sf.listen(env)
	if err != nil {
		return err
	}
	err = httpapi.Serve(ctx, ln, h, *sf.grace)
	fmt.Fprintln(env.stderr, "serve: stopped")
	return err
}

// openRegistryModel opens the registry in dir and names its model: name,
// or the only one it holds.
func openRegistryModel(dir, name string) (*lifecycle.Registry, string, error) {
	reg, err := lifecycle.Open(dir)
	if err != nil {
		return nil, "", usagef("--registry: %v", err)
	}
	models, err := reg.Models()
	if err != nil {
		return nil, "", err
	}
	if name != "" {
		if !slices.Contains(models, name) {
			return nil, "", usagef("--name %s: %s holds the models %v", name, dir, models)
		}
		return reg, name, nil
	}
	if len(models) != 1 {
		return nil, "", usagef("--registry %s holds %d models %v: name one with --name", dir, len(models), models)
	}
	return reg, models[0], nil
}
