package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/internal/synth"
	"github.com/novacron/perfpredict/lifecycle"
	"github.com/novacron/perfpredict/serve/httpapi"
)

// TestMain lets the tests run this binary as the perfpredict command
// (PERFPREDICT_AS_COMMAND=1: os.Args[1:] are the command's arguments), so
// a subprocess test runs exactly the code `go build` makes into
// perfpredict without building it again.
func TestMain(m *testing.M) {
	if os.Getenv("PERFPREDICT_AS_COMMAND") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// serveArtifact serves the forecaster saved at art with the HTTP handler
// on a test server, closed with the test.
func serveArtifact(t *testing.T, art string) *httptest.Server {
	t.Helper()
	fc, err := forecast.Open(art)
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.New(httpapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	if err := h.Load(fc, ""); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// TestServeAnswersAsPredict: POST /v1/forecast with a file's values and
// times answers the very bytes `predict --json` prints for that file.
func TestServeAnswersAsPredict(t *testing.T) {
	art := servingArtifact(t)
	data := filepath.Join(t.TempDir(), "cpu.csv")
	writeMetrics(t, data, []string{"value"}, [][]float64{synth.Walk(300, 11)}, 0, 300)
	code, stdout, stderr := runCmd("predict", "--model", art, "--data", data, "--json")
	if code != 0 {
		t.Fatalf("predict: %d %s", code, stderr)
	}
	d, err := baseline.LoadColumns(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := serveArtifact(t, art)
	body, _ := json.Marshal(map[string]any{"values": d[0].Values, "times": d[0].Times})
	resp, err := http.Post(srv.URL+"/v1/forecast", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != stdout {
		t.Fatalf("HTTP %d answered\n%s\npredict --json printed\n%s", resp.StatusCode, got, stdout)
	}
}

// TestServeDegradationAnswersAsCommand: POST /v1/degradation with a
// file's rows (named as the file) answers the bytes `degradation --json`
// prints for it, recalibration included.
func TestServeDegradationAnswersAsCommand(t *testing.T) {
	art := servingArtifact(t)
	data := filepath.Join(t.TempDir(), "latency.csv")
	cpu, mem := synth.Walk(400, 21), synth.Walk(400, 22)
	writeMetrics(t, data, []string{"cpu", "mem"}, [][]float64{cpu, mem}, 0, 400)
	code, stdout, stderr := runCmd("degradation", "--model", art, "--data", data, "--horizon", "12", "--slo", "cpu>60", "--json")
	if code != 0 {
		t.Fatalf("degradation: %d %s", code, stderr)
	}
	d, err := baseline.LoadColumns(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := serveArtifact(t, art)
	// No "recalibrate": the route recalibrates by default, as the command.
	body, _ := json.Marshal(map[string]any{"name": "latency.csv", "times": d[0].Times, "horizon": 12,
		"slo":     []any{map[string]any{"metric": "cpu", "above": 60}},
		"metrics": []any{map[string]any{"name": "cpu", "values": d[0].Values}, map[string]any{"name": "mem", "values": d[1].Values}}})
	resp, err := http.Post(srv.URL+"/v1/degradation", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The threshold's origin (in it and in the evidence) says where the
	// bound came from: "--slo" or "request". Numbers agree
	// to 1e-9 relative: the networks' float32 sums round with the batch,
	// and which origins share a forward pass depends on the workers.
	want := strings.ReplaceAll(stdout, "--slo", "request")
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil || resp.StatusCode != 200 {
		t.Fatalf("HTTP %d: %v: %s", resp.StatusCode, err, got)
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatal(err)
	}
	if path := jsonDiff(a, b, ""); path != "" {
		t.Fatalf("HTTP and degradation --json differ at %s\nHTTP: %s\ncommand: %s", path, got, stdout)
	}
}

// jsonDiff is the path of the first difference between decoded JSON
// values a and b, numbers compared to 1e-9 relative ("" if none).
func jsonDiff(a, b any, path string) string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return path + " (keys)"
		}
		for k, v := range x {
			if d := jsonDiff(v, y[k], path+"."+k); d != "" {
				return d
			}
		}
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return path + " (length)"
		}
		for i := range x {
			if d := jsonDiff(x[i], y[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
	case float64:
		y, ok := b.(float64)
		if !ok || !relNear(x, y, 1e-9) {
			return fmt.Sprintf("%s (%v vs %v)", path, a, b)
		}
	default:
		if a != b {
			return fmt.Sprintf("%s (%v vs %v)", path, a, b)
		}
	}
	return ""
}

// startCommand runs this test binary as `perfpredict args...` and returns
// once it has said where it listens (for serve and run).
func startCommand(t *testing.T, stderrLog io.Writer, args ...string) (*exec.Cmd, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "PERFPREDICT_AS_COMMAND=1")
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		pw.Close()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(stderrLog, line)
			if a, ok := strings.CutPrefix(line, "serve: listening on "); ok {
				select {
				case addr <- a:
				default:
				}
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, a
	case <-time.After(60 * time.Second):
		t.Fatal("the command did not say where it listens within 60s")
	}
	return nil, ""
}

// syncWriter is a log the subprocesses' readers share.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestServeSubprocessKilledDuringPromotion runs `perfpredict serve
// --registry` as its own process under load from eight clients while
// `perfpredict registry promote` processes flip the Active version, then
// SIGKILLs the server and the promotion in flight at once. Until the kill
// no request fails; afterwards the registry holds exactly one Active
// version and every version verifies, and a new server serves that
// version.
func TestServeSubprocessKilledDuringPromotion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	art := servingArtifact(t)
	dir := filepath.Join(t.TempDir(), "reg")
	reg, err := lifecycle.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := forecast.Open(art)
	if err != nil {
		t.Fatal(err)
	}
	var vers []string
	for range 2 {
		info, err := reg.AddForecaster(lifecycle.Manifest{Model: "cpu"}, fc)
		if err != nil {
			t.Fatal(err)
		}
		vers = append(vers, info.Version.String())
	}
	fc.Close()
	if err := reg.Promote("cpu", vers[0], "first"); err != nil {
		t.Fatal(err)
	}
	log := &syncWriter{}
	server, addr := startCommand(t, log, "serve", "--registry", dir, "--addr", "127.0.0.1:0", "--poll", "10ms")
	url := addr + "/v1/forecast"
	waitReady(t, addr)

	exe, _ := os.Executable()
	var killed atomic.Bool
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	values := synth.Walk(100, 3)
	body, _ := json.Marshal(map[string]any{"values": values})
	client := &http.Client{Timeout: 10 * time.Second}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !killed.Load() {
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					if !killed.Load() {
						failed.Add(1)
						t.Errorf("before the kill: %v", err)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 && !killed.Load() {
					failed.Add(1)
					t.Errorf("before the kill: status %d", resp.StatusCode)
				} else if resp.StatusCode == 200 {
					ok.Add(1)
				}
			}
		}()
	}
	// Flip the Active version from other processes; kill the server and
	// the ninth promotion while it runs.
	for i := 0; ; i++ {
		p := exec.Command(exe, "registry", "promote", "--dir", dir, "--model", "cpu", "--version", vers[(i+1)%2], "--reason", "flip")
		p.Env = append(os.Environ(), "PERFPREDICT_AS_COMMAND=1")
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		if i == 8 {
			time.Sleep(time.Duration(i) * time.Millisecond) // somewhere inside the promotion
			killed.Store(true)
			server.Process.Signal(syscall.SIGKILL)
			p.Process.Signal(syscall.SIGKILL)
			p.Wait()
			break
		}
		if err := p.Wait(); err != nil {
			t.Fatalf("promote %d: %v", i, err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	server.Wait()
	wg.Wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("%d requests answered, %d failed before the kill\n%s", ok.Load(), failed.Load(), log)
	}
	t.Logf("%d requests answered before the SIGKILL, none failed", ok.Load())

	reg, err = lifecycle.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := reg.Verify("cpu")
	if err != nil {
		t.Fatalf("verify after the kill: %v", err)
	}
	active := 0
	for _, v := range vs {
		if v.Problem != "" {
			t.Errorf("%s: %s", v.Version, v.Problem)
		}
		if v.Status == lifecycle.Active {
			active++
		}
	}
	want, err := reg.ActiveVersion("cpu")
	if active != 1 || err != nil || len(vs) != 2 {
		t.Fatalf("%d Active of %d versions after the kill (%q, %v)", active, len(vs), want, err)
	}
	_, addr = startCommand(t, log, "serve", "--registry", dir, "--addr", "127.0.0.1:0")
	if got := waitReady(t, addr); got != want {
		t.Fatalf("restarted server serves %s, the registry's Active is %s", got, want)
	}
}

// waitReady polls /readyz until it answers 200 and returns the version.
func waitReady(t *testing.T, addr string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		resp, err := http.Get(addr + "/readyz")
		if err != nil {
			continue
		}
		var r struct{ Version string }
		json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			return r.Version
		}
	}
	t.Fatalf("%s not ready in 30s", addr)
	return ""
}

// TestServeFlags: bad flag combinations are usage errors naming the flag.
func TestServeFlags(t *testing.T) {
	art := servingArtifact(t)
	reg := filepath.Join(t.TempDir(), "reg")
	if code, _, stderr := runCmd("registry", "add", "--dir", reg, "--model", "cpu", "--artifact", art); code != 0 {
		t.Fatal(stderr)
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{}, "give --model or --registry"},
		{[]string{"--model", "a.zip", "--registry", "r"}, "give --model or --registry"},
		{[]string{"--registry", filepath.Join(t.TempDir(), "none")}, "--registry"},
		{[]string{"--model", "a.zip", "--max-body", "0"}, "--max-body"},
		{[]string{"--model", art, "--addr", "127.0.0.1:99999"}, "--addr 127.0.0.1:99999"},
		{[]string{"--model", filepath.Join(t.TempDir(), "missing.zip")}, "missing.zip"},
		{[]string{"--registry", reg, "--name", "mem"}, "--name mem: " + reg + " holds the models [cpu]"},
		{[]string{"--registry", reg, "--device", "cuda"}, "--device cuda: with --registry"},
	} {
		code, _, stderr := runCmd(append([]string{"serve"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.says) {
			t.Errorf("serve %v: exit %d %q, want 2 naming %q", c.args, code, stderr, c.says)
		}
	}
}
