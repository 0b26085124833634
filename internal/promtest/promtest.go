// Package promtest runs a real Prometheus server for tests, holding the
// history a test gives it.
//
// Start writes the series as OpenMetrics text, turns it into TSDB blocks
// with "promtool tsdb create-blocks-from openmetrics" in a temporary data
// directory, starts "prometheus" on a free 127.0.0.1 port over that
// directory (retention 100 years, so history from any year stays
// queryable), waits for /-/ready and stops the server when the test ends.
// A test is skipped, naming the missing binary and the command that
// installs it, when prometheus or promtool is not on PATH.
package promtest

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Series is one series of history: a metric name, its labels and its
// samples (times strictly increasing).
type Series struct {
	Metric string
	Labels map[string]string
	Times  []time.Time
	Values []float64
}

// Server is a running Prometheus.
type Server struct {
	// URL is its base address, http://127.0.0.1:PORT.
	URL string
}

// installHint is how CI (Debian, as root) gets the binaries.
const installHint = "apt-get install -y prometheus"

// Start backfills series and starts Prometheus over them; the server stops
// when t ends. It skips t when a binary is missing and fails t on any other
// problem.
func Start(t testing.TB, series ...Series) *Server {
	t.Helper()
	return start(t, "", series)
}

// StartScraping is Start with the server also scraping the targets
// (host:port, path /metrics) every interval, as job "perfpredict".
func StartScraping(t testing.TB, targets []string, interval time.Duration, series ...Series) *Server {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "scrape_configs:\n  - job_name: perfpredict\n    scrape_interval: %s\n    scrape_timeout: %s\n    static_configs:\n      - targets: [", interval, interval)
	for i, tg := range targets {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", tg)
	}
	b.WriteString("]\n")
	return start(t, b.String(), series)
}

func start(t testing.TB, scrape string, series []Series) *Server {
	t.Helper()
	bins := map[string]string{}
	for _, b := range []string{"prometheus", "promtool"} {
		p, err := exec.LookPath(b)
		if err != nil {
			t.Skipf("promtest: %s not found on PATH; install it with %q", b, installHint)
		}
		bins[b] = p
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if len(series) > 0 {
		om := filepath.Join(dir, "history.om")
		if err := writeOpenMetrics(om, series); err != nil {
			t.Fatalf("promtest: %v", err)
		}
		out, err := exec.Command(bins["promtool"], "tsdb", "create-blocks-from", "openmetrics", "--quiet",
			// One block per year instead of one per 2 hours: backfilling a
			// 2-month NAB series takes 2 s instead of 100 s.
			"--max-block-duration=8760h", om, data).CombinedOutput()
		if err != nil {
			t.Fatalf("promtest: promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
		}
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	// Without scrape targets the server holds the backfilled history only.
	if err := os.WriteFile(cfg, []byte("global:\n  evaluation_interval: 1h\n"+scrape), 0o644); err != nil {
		t.Fatalf("promtest: %v", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logPath := filepath.Join(dir, "prometheus.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}
	cmd := exec.Command(bins["prometheus"],
		"--config.file="+cfg,
		"--storage.tsdb.path="+data,
		"--storage.tsdb.retention.time=100y",
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("promtest: start prometheus: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// SIGTERM lets it close the TSDB; SIGKILL if it hangs.
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
	})
	s := &Server{URL: "http://" + addr}
	if err := s.waitReady(exited, 60*time.Second); err != nil {
		log, _ := os.ReadFile(logPath)
		t.Fatalf("promtest: %v\nprometheus log:\n%s", err, log)
	}
	return s
}

// waitReady polls /-/ready until the server answers 200.
func (s *Server) waitReady(exited <-chan error, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("prometheus exited before it was ready: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("prometheus at %s not ready after %v", s.URL, limit)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePort asks the kernel for a free 127.0.0.1 port. Another process may
// take it before Prometheus binds it; the start then fails loudly.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeOpenMetrics writes the series as gauges, one family per metric name,
// each series' samples contiguous, timestamps in seconds.
func writeOpenMetrics(path string, series []Series) error {
	byMetric := map[string][]Series{}
	var metrics []string
	for _, s := range series {
		if len(s.Times) != len(s.Values) {
			return fmt.Errorf("series %s: %d times, %d values", s.Metric, len(s.Times), len(s.Values))
		}
		if _, ok := byMetric[s.Metric]; !ok {
			metrics = append(metrics, s.Metric)
		}
		byMetric[s.Metric] = append(byMetric[s.Metric], s)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, m := range metrics {
		fmt.Fprintf(w, "# TYPE %s gauge\n", m)
		for _, s := range byMetric[m] {
			labels := labelText(s.Labels)
			for i, t := range s.Times {
				fmt.Fprintf(w, "%s%s %s %s\n", m, labels, formatValue(s.Values[i]),
					strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'f', -1, 64))
			}
		}
	}
	fmt.Fprintln(w, "# EOF")
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func labelText(labels map[string]string) string {
	if len(labels) == 0 {
		return ""
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(labels[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// formatValue writes the shortest text that parses back to v exactly.
func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
