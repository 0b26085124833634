package main

import (
	"encoding/json"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/internal/promtest"
)

// TestPrometheusInput serves a NAB series from a real Prometheus and runs
// train, evaluate and predict on it through --prometheus and on its CSV
// through --data: same data, same forecasts and scores.
func TestPrometheusInput(t *testing.T) {
	csv := filepath.Join(nabDir, "realAWSCloudwatch", "ec2_cpu_utilization_5f5533.csv")
	s, err := baseline.LoadCSV(csv, "")
	if err != nil {
		t.Fatal(err)
	}
	// A second series 100 steps shorter: querying both is a matrix of
	// mismatched series.
	srv := promtest.Start(t,
		promtest.Series{Metric: "cpu", Labels: map[string]string{"instance": "5f5533"}, Times: s.Times, Values: s.Values},
		promtest.Series{Metric: "cpu", Labels: map[string]string{"instance": "short"}, Times: s.Times[100:], Values: s.Values[100:]},
	)
	first, last := s.Times[0].Format(time.RFC3339), s.Times[s.Len()-1].Format(time.RFC3339)
	prom := []string{"--prometheus", srv.URL, "--query", `cpu{instance="5f5533"}`, "--start", first, "--end", last, "--step", "5m"}
	dir := t.TempDir()

	run := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := runCmd(args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		return stdout
	}
	sameReport := func(what, a, b string) {
		t.Helper()
		ra, rb := decodeReport(t, a), decodeReport(t, b)
		if len(ra.Series) == 0 || len(ra.Series) != len(rb.Series) {
			t.Fatalf("%s: %d rows via --data, %d via --prometheus", what, len(ra.Series), len(rb.Series))
		}
		for i := range ra.Series {
			if ra.Series[i].Name != "ec2_cpu_utilization_5f5533" || rb.Series[i].Name != `cpu{instance="5f5533"}` {
				t.Errorf("%s row %d: names %q and %q", what, i, ra.Series[i].Name, rb.Series[i].Name)
			}
			if !reflect.DeepEqual(ra.Series[i].Methods, rb.Series[i].Methods) {
				t.Errorf("%s row %d (h=%d): scores differ:\n--data       %+v\n--prometheus %+v", what, i, ra.Series[i].Horizon, ra.Series[i].Methods, rb.Series[i].Methods)
			}
		}
	}

	artCSV, artProm := filepath.Join(dir, "csv.zip"), filepath.Join(dir, "prom.zip")
	trainArgs := append([]string{"train", "--json", "--horizon", "1,3"}, tinyRecipe...)
	viaCSV := run(append(trainArgs, "--out", artCSV, "--data", csv)...)
	viaProm := run(append(append(trainArgs, "--out", artProm), prom...)...)
	sameReport("train", viaCSV, viaProm)

	sameReport("evaluate",
		run("evaluate", "--json", "--model", artCSV, "--data", csv),
		run(append([]string{"evaluate", "--json", "--model", artCSV}, prom...)...))

	type forecasts struct{ Predictions, P10, P90 [][]float64 }
	predict := func(art string, src ...string) forecasts {
		var f forecasts
		out := run(append([]string{"predict", "--json", "--model", art}, src...)...)
		if err := json.Unmarshal([]byte(out), &f); err != nil {
			t.Fatalf("predict: %v\n%s", err, out)
		}
		return f
	}
	a, b := predict(artCSV, "--data", csv), predict(artProm, prom...)
	if len(a.Predictions) != 1 || !reflect.DeepEqual(a, b) {
		t.Errorf("predict: the artifact trained on the CSV forecasts the CSV as\n%v\nthe one trained from Prometheus forecasts Prometheus as\n%v", a, b)
	}

	// Bad input: the user's fault exits 2, an unreachable server 1; each
	// message names what is wrong.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	withQuery := func(url, query string, more ...string) []string {
		return append([]string{"--prometheus", url, "--query", query, "--start", first, "--end", last}, more...)
	}
	bad := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unreachable", withQuery(closed, "cpu"), 1, "prometheus " + closed},
		{"no series", withQuery(srv.URL, "absent"), 2, "query absent returned no series"},
		{"mismatched series", withQuery(srv.URL, "cpu"), 2, `series cpu{instance="short"} has no value at ` + first},
		{"bad PromQL", withQuery(srv.URL, "cpu{"), 2, "query cpu{:"},
		{"bad start", []string{"--prometheus", srv.URL, "--query", "cpu", "--start", "yesterday"}, 2, `--start "yesterday": want RFC 3339`},
		{"end before start", []string{"--prometheus", srv.URL, "--query", "cpu", "--start", last, "--end", first}, 2, "is before start"},
		{"bad step", withQuery(srv.URL, "cpu", "--step", "5x"), 2, `invalid value "5x" for flag -step`},
		{"zero step", withQuery(srv.URL, "cpu", "--step", "0s"), 2, "step 0s: want at least 1ms"},
		{"step finer than the data", withQuery(srv.URL, `cpu{instance="5f5533"}`, "--step", "1m"), 2, "has no value at"},
		{"no query", []string{"--prometheus", srv.URL}, 2, "--prometheus needs --query"},
		{"query without a server", []string{"--query", "cpu", "--data", csv}, 2, "--query needs --prometheus"},
		{"both sources", append(withQuery(srv.URL, "cpu"), "--data", csv), 2, "pass --data or --prometheus, not both"},
		{"target with a query", withQuery(srv.URL, "cpu", "--target", "value"), 2, "--target picks CSV columns"},
	}
	for _, c := range bad {
		for _, cmd := range []string{"evaluate", "predict"} {
			t.Run(c.name+"/"+cmd, func(t *testing.T) {
				code, _, stderr := runCmd(append([]string{cmd, "--model", artCSV}, c.args...)...)
				// The last line is the error (a flag the flag package
				// rejects prints the usage before it).
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				if code != c.code || !strings.Contains(lines[len(lines)-1], c.want) {
					t.Errorf("exit %d, stderr %q; want %d and a last line containing %q", code, stderr, c.code, c.want)
				}
			})
		}
	}

	// monitor replays one series: a query of two is a usage error, one runs.
	code, _, stderr := runCmd(append([]string{"monitor", "--model", "ridge_ar"}, withQuery(srv.URL, `{__name__="cpu"}`, "--start", s.Times[100].Format(time.RFC3339), "--end", s.Times[200].Format(time.RFC3339))...)...)
	if code != 2 || !strings.Contains(stderr, "2 series; monitor replays one") {
		t.Errorf("monitor on two series: exit %d, %q", code, stderr)
	}
	var mon struct {
		Data     string `json:"data"`
		Replayed int    `json:"replayed_rows"`
	}
	out := run(append([]string{"monitor", "--model", "ridge_ar", "--json"}, prom...)...)
	if err := json.Unmarshal([]byte(out), &mon); err != nil {
		t.Fatal(err)
	}
	if mon.Replayed != 606 || !strings.Contains(mon.Data, srv.URL) {
		t.Errorf("monitor via --prometheus: %+v, want 606 replayed rows as from the CSV", mon)
	}
}
