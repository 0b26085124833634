package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/internal/promtest"
)

// TestServeFollowsPrometheusSeries: `serve --prometheus` answers a
// {"series": NAME} request with the series' switch by default, fitted on
// its last 8064 points on the step's grid (all 4032 that Prometheus holds
// here): the very bytes `predict --switch --json` prints for a file of
// those points. With --switch=false
// the model answers, as `predict --json` does.
func TestServeFollowsPrometheusSeries(t *testing.T) {
	nab, err := baseline.LoadCSV(filepath.Join(nabDir, "realAWSCloudwatch", "ec2_cpu_utilization_5f5533.csv"), "")
	if err != nil {
		t.Fatal(err)
	}
	// The series on the 5-minute grid, its point k at end - (n-1-k) steps,
	// going an hour past now so that the grid's last point up to now has
	// a sample whenever the request comes.
	const step = 5 * time.Minute
	n := nab.Len()
	end := time.Now().UTC().Truncate(step).Add(time.Hour)
	values, times := asWritten(nab.Values), make([]time.Time, n)
	for k := range times {
		times[k] = end.Add(-time.Duration(n-1-k) * step)
	}
	prom := promtest.Start(t, promtest.Series{Metric: "cpu", Labels: map[string]string{"instance": "5f5533"}, Times: times, Values: values})
	art := servingArtifact(t)

	for _, c := range []struct {
		flag string
		args []string // predict's
		rows int      // the file's: what the answer reads
		want string   // Method
	}{
		{"--switch=true", []string{"--switch"}, 8064, "switch"},
		{"--switch=false", nil, 288, "model"},
	} {
		t.Run(c.flag, func(t *testing.T) {
			cmd, base := startCommand(t, io.Discard, "serve", "--model", art, "--prometheus", prom.URL, "--step", "5m", "--addr", "127.0.0.1:0", c.flag)
			defer cmd.Process.Kill()
			waitReady(t, base)
			resp, err := http.Post(base+"/v1/forecast", "application/json", strings.NewReader(`{"series": "cpu{instance=\"5f5533\"}", "metric": "value"}`))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Contains(got, []byte(`"method":"`+c.want+`"`)) {
				t.Fatalf("HTTP %d answered\n%s\nwant method %s", resp.StatusCode, got, c.want)
			}
			// The rows the answer read: those up to its origin.
			var origin struct{ Origin time.Time }
			if err := json.Unmarshal(got, &origin); err != nil {
				t.Fatal(err)
			}
			last := -1
			for k, tk := range times {
				if tk.Equal(origin.Origin) {
					last = k
				}
			}
			if last < 0 {
				t.Fatalf("origin %v is not a point of the series", origin.Origin)
			}
			rows := min(c.rows, last+1) // Prometheus gives what it has
			var csv strings.Builder
			csv.WriteString("timestamp,value\n")
			for k := last + 1 - rows; k <= last; k++ {
				fmt.Fprintf(&csv, "%s,%.6f\n", times[k].Format("2006-01-02 15:04:05"), values[k])
			}
			data := filepath.Join(t.TempDir(), "cpu.csv")
			if err := os.WriteFile(data, []byte(csv.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runCmd(append([]string{"predict", "--model", art, "--data", data, "--json"}, c.args...)...)
			if code != 0 {
				t.Fatalf("predict: %d %s", code, stderr)
			}
			if string(got) != stdout {
				t.Fatalf("serve %s answered\n%s\npredict %v --json on the rows it read printed\n%s", c.flag, got, c.args, stdout)
			}
		})
	}
}
