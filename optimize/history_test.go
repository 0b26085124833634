package optimize

import (
	"strings"
	"testing"
)

func TestParseHistory(t *testing.T) {
	in := "time,throughput_rps,vcpus,cpu_utilization,latency_ms\nx,1000,8,0.55,31.5\ny,1500,8,0.8,40\n"
	got, err := ParseHistory(strings.NewReader(in), "h.csv")
	if err != nil || len(got) != 2 || got[1] != (Observation{1500, 8, 0.8, 40}) {
		t.Fatalf("%+v %v", got, err)
	}
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"throughput_rps,vcpus,latency_ms\n1,2,3\n", `h.csv: metric "cpu_utilization" not found`},
		{"throughput_rps,vcpus,cpu_utilization,latency_ms\n", "h.csv: no samples"},
		{"throughput_rps,vcpus,cpu_utilization,latency_ms\n1,2,0.5,3\n1,2,,3\n", `h.csv:3: field "cpu_utilization": missing value`},
		{"throughput_rps,vcpus,cpu_utilization,latency_ms\n1,2.5,0.5,3\n", `h.csv:2: field "vcpus": 2.5 is not a positive whole number`},
		{"throughput_rps,vcpus,cpu_utilization,latency_ms\n1,2,55,3\n", "share"},
		{"throughput_rps,vcpus,cpu_utilization,latency_ms\n-1,2,0.5,3\n", `h.csv:2: field "throughput_rps": -1 is negative`},
		{"throughput_rps,vcpus,cpu_utilization,latency_ms\n1,2\n", "h.csv:2: 2 fields, header has 4"},
		{"throughput_rps,vcpus,cpu_utilization,latency_ms\n1,2,0.5,NaN\n", `h.csv:2: field "latency_ms": missing value`},
		{"throughput_rps,vcpus,cpu_utilization,latency_ms\n1,2,0.5,abc\n", `h.csv:2: field "latency_ms": not a number: "abc"`},
	} {
		_, err := ParseHistory(strings.NewReader(tc.in), "h.csv")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.in, err, tc.want)
		}
	}
}

func FuzzParseHistory(f *testing.F) {
	f.Add("throughput_rps,vcpus,cpu_utilization,latency_ms\n1000,8,0.5,30\n")
	f.Add("latency_ms,vcpus,throughput_rps,cpu_utilization\n1,1,1,1\n2,2,2,0\n")
	f.Add("throughput_rps,vcpus,cpu_utilization,latency_ms\n\"1\n")
	f.Fuzz(func(t *testing.T, in string) {
		obs, err := ParseHistory(strings.NewReader(in), "fuzz.csv")
		if err != nil {
			return
		}
		// Whatever parses must calibrate or fail cleanly.
		_, _ = Calibrate(obs, DefaultCapacity())
	})
}
