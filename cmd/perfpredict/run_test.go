package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/internal/promtest"
	"github.com/novacron/perfpredict/lifecycle"
	"github.com/novacron/perfpredict/serve"
)

// TestRunAgainstPrometheus runs `perfpredict run` as its own process
// against a real Prometheus holding a NAB series in compressed time (one
// point a second instead of every five minutes: 20 minutes of backfilled
// history, then a new point a second scraped from an exporter; run reads
// it every 2 s, so one scrape missed on a loaded machine is no gap), with
// Prometheus scraping the command's /metrics too. Within the test's budget the
// command collects (a backfill, then the new points), retrains on its
// 15 s schedule with the train recipe (--epochs 1), promotes v1.0.0,
// serves it over HTTP, fires the inference-time alert and retrains on it;
// Prometheus sees the served version and the firing alert; SIGTERM stops
// it cleanly and the registry holds one Active version, all intact. It
// skips only when prometheus or promtool is not installed.
func TestRunAgainstPrometheus(t *testing.T) {
	nab, err := baseline.LoadCSV(filepath.Join("..", "..", "testdata", "nab", "realKnownCause", "cpu_utilization_asg_misconfiguration.csv"), "value")
	if err != nil {
		t.Fatal(err)
	}
	// Point k of the series is at start + (k - past + lead) seconds. The
	// history Prometheus holds is points 0..past-1, the last ones a few
	// seconds ahead (lead) so that the server's start-up leaves no gap
	// before its first scrape; from then on an exporter serves the point
	// of the current second and Prometheus scrapes it (the backfilled
	// series and the scraped one share a label set: the query sees one).
	const past, lead = 1200, 10
	start := time.Now().Truncate(time.Second)
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		k := past - lead + int(time.Since(start)/time.Second)
		fmt.Fprintf(w, "# TYPE nab_cpu gauge\nnab_cpu{series=\"asg\"} %g\n", nab.Values[k%len(nab.Values)])
	}))
	defer exporter.Close()
	exporterAddr := strings.TrimPrefix(exporter.URL, "http://")
	s := promtest.Series{Metric: "nab_cpu", Labels: map[string]string{"series": "asg", "job": "perfpredict", "instance": exporterAddr}}
	for k := range past {
		s.Times = append(s.Times, start.Add(time.Duration(k-past+lead)*time.Second))
		s.Values = append(s.Values, nab.Values[k])
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // run listens here; Prometheus is told to scrape it
	prom := promtest.StartScraping(t, []string{addr, exporterAddr}, time.Second, s)

	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte("alerts:\n  - {name: InferenceSeen, condition: \"inference_time > 0ms\", severity: low, action: retrain_model}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	regDir := filepath.Join(dir, "registry")
	log := &syncWriter{}
	cmd, base := startCommand(t, log, "run", "--prometheus", prom.URL, "--query", `nab_cpu{series="asg"}`,
		"--registry", regDir, "--name", "asg", "--addr", addr, "--interval", "2s", "--retrain", "15s",
		"--rules", rules, "--epochs", "1", "--threshold", "0", "--holdout", "30s", "--backfill", "1200")
	if base != "http://"+addr {
		t.Fatalf("run listens on %s, want %s", base, addr)
	}
	query := func(q string) []map[string]string {
		resp, err := http.Get(prom.URL + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
				} `json:"result"`
			} `json:"data"`
		}
		json.NewDecoder(resp.Body).Decode(&r)
		var out []map[string]string
		for _, x := range r.Data.Result {
			out = append(out, x.Metric)
		}
		return out
	}
	want := []string{"run: collected 1", "run: collected ", "retrain: schedule", "promoted v1.0.0", "serving asg v1.0.0",
		"run: alert InferenceSeen firing", "retrain: alert InferenceSeen", " v1.1.0: held-out"}
	var scrapedVersion, scrapedAlert bool
	deadline := time.Now().Add(80 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		logs := log.String()
		missing := false
		for _, w := range want {
			missing = missing || !strings.Contains(logs, w)
		}
		if !scrapedVersion {
			for _, m := range query(`perfpredict_model_version{job="perfpredict"} == 1`) {
				scrapedVersion = scrapedVersion || m["version"] == "v1.0.0"
			}
		}
		if !scrapedAlert {
			scrapedAlert = len(query(`perfpredict_alert_firing{alert="InferenceSeen",job="perfpredict"} == 1`)) > 0
		}
		if !missing && scrapedVersion && scrapedAlert {
			break
		}
	}
	logs := log.String()
	for _, w := range want {
		if !strings.Contains(logs, w) {
			t.Errorf("the run never logged %q", w)
		}
	}
	// The backfill (the history up to the first scrape at a 2 s step,
	// about 600 points), then the scraped points.
	if m := regexp.MustCompile(`run: collected (\d+) samples`).FindAllStringSubmatch(logs, -1); len(m) < 2 || len(m[0][1]) < 3 {
		t.Error("no collection after the backfill")
	}
	if !scrapedVersion || !scrapedAlert {
		t.Errorf("Prometheus scraped the served version v1.0.0: %v, the firing alert: %v", scrapedVersion, scrapedAlert)
		if resp, err := http.Get(prom.URL + "/api/v1/targets"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t.Logf("Prometheus's targets: %s", b)
		}
	}
	// The service answers from the promoted version, for values sent and
	// for the series read from Prometheus.
	if v := waitReady(t, base); !strings.HasPrefix(v, "v1.") {
		t.Errorf("served version %q", v)
	}
	// Should Prometheus have started after the backfill's end, the points
	// it missed are a gap: a forecast is refused (422, naming the gap,
	// then the values short of the 61 the model reads) until the gap is
	// older than the window (two minutes here).
	var ans serve.ForecastAnswer
	var code int
	var raw []byte
	for give := time.Now().Add(70 * time.Second); time.Now().Before(give); time.Sleep(2 * time.Second) {
		resp, err := http.Post(base+"/v1/forecast", "application/json", strings.NewReader(`{"series": "nab_cpu{series=\"asg\"}"}`))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if code = resp.StatusCode; code != http.StatusUnprocessableEntity {
			break
		}
	}
	json.Unmarshal(raw, &ans)
	if code != 200 || ans.Source != serve.SourceModel || len(ans.Predictions) != 1 || len(ans.Predictions[0]) != ans.Horizon ||
		time.Since(ans.Origin) > time.Minute || ans.Times[0].Sub(ans.Origin) != 2*time.Second {
		t.Errorf("forecast of the series from Prometheus: %d %s", code, raw)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after SIGTERM: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Error("run did not stop within 60s of SIGTERM")
	}
	logs = log.String()
	if !strings.Contains(logs, "run: stopped") {
		t.Error("no clean stop logged after SIGTERM")
	}
	if t.Failed() {
		t.Logf("run's log:\n%s", logs)
	}
	reg, err := lifecycle.Open(regDir)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := reg.Verify("asg")
	if err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, v := range vs {
		if v.Status == lifecycle.Active {
			active++
		}
	}
	if active != 1 {
		t.Fatalf("%d Active versions of %d", active, len(vs))
	}
	t.Logf("versions after the run: %d; log:\n%s", len(vs), logs)

	// Faults: a run retraining every 2 s is SIGKILLed three times, at
	// different points of its retrain. Each restart is ready at once with the registry's Active
	// version, and after each kill the registry holds exactly one Active
	// version and every version verifies.
	args := []string{"run", "--prometheus", prom.URL, "--query", `nab_cpu{series="asg"}`, "--registry", regDir, "--name", "asg",
		"--addr", "127.0.0.1:0", "--interval", "2s", "--retrain", "2s", "--epochs", "1", "--threshold", "0", "--holdout", "30s", "--backfill", "1200"}
	for kill := range 3 {
		want, err := reg.ActiveVersion("asg")
		if err != nil {
			t.Fatal(err)
		}
		klog := &syncWriter{}
		k, kbase := startCommand(t, klog, args...)
		if got := waitReady(t, kbase); got != want {
			t.Fatalf("restart %d serves %q, the registry's Active is %s", kill, got, want)
		}
		// Kill 0 as training starts, 1 the moment a promotion is logged
		// (the swap that follows is in flight), 2 half a second into a
		// retrain.
		at := map[int]string{0: "retrain: schedule", 1: "promoted v", 2: "retrain: schedule"}[kill]
		for give := time.Now().Add(30 * time.Second); !strings.Contains(klog.String(), at); time.Sleep(time.Millisecond) {
			if time.Now().After(give) {
				t.Fatalf("restart %d never logged %q:\n%s", kill, at, klog)
			}
		}
		if kill == 2 {
			time.Sleep(500 * time.Millisecond)
		}
		k.Process.Signal(syscall.SIGKILL)
		k.Wait()
		if reg, err = lifecycle.Open(regDir); err != nil {
			t.Fatalf("after SIGKILL %d: %v", kill, err)
		}
		vs, err := reg.Verify("asg")
		active := 0
		for _, v := range vs {
			if v.Status == lifecycle.Active {
				active++
			}
		}
		if err != nil || active != 1 {
			t.Fatalf("after SIGKILL %d: %d Active of %d versions, %v\n%s", kill, active, len(vs), err, klog)
		}
		t.Logf("SIGKILL %d: %d versions, Active %s; the run's last lines:\n%s", kill, len(vs), mustActive(t, reg), lastLines(klog.String(), 3))
	}
}

func mustActive(t *testing.T, reg *lifecycle.Registry) string {
	v, err := reg.ActiveVersion("asg")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// lastLines is the last n lines of s, without the collection lines.
func lastLines(s string, n int) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if !strings.Contains(l, "run: collected") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep[max(0, len(keep)-n):], "\n")
}

// TestRunFlags: bad flags and a bad rules file are usage errors naming the
// flag or the file, before anything is collected.
func TestRunFlags(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte("alerts:\n  - {name: X, condition: \"nonsense > 1\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"run", "--prometheus", "http://127.0.0.1:1", "--query", "cpu", "--registry", filepath.Join(dir, "reg")}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"run", "--query", "cpu"}, "--prometheus, --query and --registry are required"},
		{append(slices.Clone(base), "--threshold", "1.5"), "--threshold"},
		{append(slices.Clone(base), "--epochs", "0"), "--epochs"},
		{append(slices.Clone(base), "--history", "0"), "--history"},
		{append(slices.Clone(base), "--interval", "0s"), "--interval"},
		{append(slices.Clone(base), "--rules", rules), "rules.yaml"},
		{append(slices.Clone(base), "--rules", filepath.Join(dir, "none.yaml")), "none.yaml"},
	} {
		code, _, stderr := runCmd(c.args...)
		if code != 2 || !strings.Contains(stderr, c.says) {
			t.Errorf("%v: exit %d %q, want 2 naming %q", c.args[1:], code, stderr, c.says)
		}
	}
}
