package forecast

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/novacron/perfpredict/baseline"
)

// fuzzArtifact encodes a one-network tiny forecaster: the seed the fuzz
// targets below mutate.
func fuzzArtifact(f *testing.F) []byte {
	f.Helper()
	o := tinyOptions()
	o.Ensemble = 1
	fc, err := Train(context.Background(), []baseline.Series{synthSeries("a", 600, 1)}, o)
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := fc.Encode(&buf); err != nil {
		f.Fatal(err)
	}
	return buf.Bytes()
}

// entry returns one stored entry of a zip.
func entry(f *testing.F, data []byte, name string) []byte {
	f.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		f.Fatal(err)
	}
	rc, err := zr.Open(name)
	if err != nil {
		f.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		f.Fatal(err)
	}
	return b.Bytes()
}

// checkDecoded is what every decode must satisfy: an error marked as bad
// input, or a forecaster that reopens to the same thing and forecasts (or
// refuses with an error) without panicking.
func checkDecoded(t *testing.T, data []byte) {
	fc, err := Decode(data, "fuzz.zip")
	if err != nil {
		if !errors.Is(err, ErrBadInput) {
			t.Fatalf("error not marked as bad input: %v", err)
		}
		return
	}
	if fc.Members() < 1 || fc.Horizon() < 1 || fc.Needs() < 2 {
		t.Fatalf("decoded: %d members, horizon %d, needs %d", fc.Members(), fc.Horizon(), fc.Needs())
	}
	// Round trip: what Decode accepted, Encode writes and Decode reads back.
	var buf bytes.Buffer
	if err := fc.Encode(&buf); err != nil {
		t.Fatalf("re-encoding an accepted artifact: %v", err)
	}
	again, err := Decode(buf.Bytes(), "again.zip")
	if err != nil {
		t.Fatalf("re-decoding an accepted artifact: %v", err)
	}
	if again.Members() != fc.Members() || again.Needs() != fc.Needs() || again.Horizon() != fc.Horizon() {
		t.Fatalf("round trip: %d/%d/%d, want %d/%d/%d", again.Members(), again.Needs(), again.Horizon(),
			fc.Members(), fc.Needs(), fc.Horizon())
	}
	if fc.Needs() > 1<<14 {
		return // a huge window is legal; forecasting it here would only be slow
	}
	hist := make([]float64, fc.Needs())
	for i := range hist {
		hist[i] = 50 + math.Sin(float64(i))
	}
	fcst, err := fc.Forecast(context.Background(), hist)
	if err == nil && len(fcst.Points) != fc.Horizon() {
		t.Fatalf("%d points, horizon %d", len(fcst.Points), fc.Horizon())
	}
}

// FuzzDecode feeds Decode arbitrary bytes: mostly not zips, or zips whose
// CRC fails after a mutation.
func FuzzDecode(f *testing.F) {
	f.Add(fuzzArtifact(f))
	f.Add([]byte("hello"))
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) { checkDecoded(t, data) })
}

// FuzzDecodeEntries mutates the manifest and the network inside a valid
// zip, so mutations reach the JSON and safetensors readers past the CRC.
func FuzzDecodeEntries(f *testing.F) {
	good := fuzzArtifact(f)
	f.Add(entry(f, good, manifestName), entry(f, good, memberEntry(0)))
	// The same manifest as a version-1 artifact calibrated in the unit.
	var m map[string]any
	if err := json.Unmarshal(entry(f, good, manifestName), &m); err != nil {
		f.Fatal(err)
	}
	m["version"] = 1
	delete(m["calibration"].(map[string]any), "scale")
	legacy, _ := json.Marshal(m)
	f.Add(legacy, entry(f, good, memberEntry(0)))
	f.Add([]byte(`{"format":"perfpredict.forecaster","version":1,"members":["member-1.safetensors"]}`), []byte{})
	f.Fuzz(func(t *testing.T, manifest, member []byte) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, e := range []struct {
			name string
			b    []byte
		}{{manifestName, manifest}, {memberEntry(0), member}} {
			w, err := zw.Create(e.name)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(e.b)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		checkDecoded(t, buf.Bytes())
	})
}
