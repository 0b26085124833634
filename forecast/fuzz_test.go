package forecast

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/novacron/perfpredict/baseline"
)

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "train and rewrite the artifacts in testdata the fuzz targets mutate (fuzzSeeds)")

// fuzzSeeds are the committed artifacts the fuzz targets start from: a
// one-network tiny forecaster, the same with trees, and the same with a
// switch's trees. They are files, not
// trained at the start of each fuzzing process, because training under the
// fuzzer's coverage instrumentation takes most of a short fuzzing run.
var fuzzSeeds = []struct {
	name string
	opt  func() Options
}{
	{"tiny.zip", func() Options {
		o := tinyOptions()
		o.Ensemble = 1
		return o
	}},
	{"tiny_trees.zip", func() Options {
		o := tinyTreeOptions()
		o.Ensemble, o.Trees.Params.Rounds = 1, 3
		return o
	}},
	{"tiny_switch_trees.zip", func() Options {
		o := tinyOptions()
		o.Ensemble, o.SwitchTrees = 1, DefaultSwitchTreeOptions()
		o.SwitchTrees.Params.Rounds = 3
		return o
	}},
}

// fuzzArtifact returns the committed seed artifact name.
func fuzzArtifact(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("%v (go test -run TestFuzzSeeds -update-fuzz-seeds ./forecast writes it)", err)
	}
	return data
}

// TestFuzzSeeds checks that the committed seeds are valid artifacts of the
// current format that forecast (trees where expected), and rewrites them
// with -update-fuzz-seeds.
func TestFuzzSeeds(t *testing.T) {
	s := synthSeries("a", 600, 1)
	for _, seed := range fuzzSeeds {
		if *updateFuzzSeeds {
			fc, err := Train(context.Background(), []baseline.Series{s}, seed.opt())
			if err != nil {
				t.Fatal(err)
			}
			if err := fc.Save(filepath.Join("testdata", seed.name)); err != nil {
				t.Fatal(err)
			}
		}
		fc, err := Decode(fuzzArtifact(t, seed.name), seed.name)
		if err != nil {
			t.Fatalf("%s: %v", seed.name, err)
		}
		if got, want := fc.trees != nil, seed.opt().Trees != nil; got != want {
			t.Errorf("%s: has trees %v, want %v", seed.name, got, want)
		}
		if got, want := fc.switchTrees != nil, seed.opt().SwitchTrees != nil; got != want {
			t.Errorf("%s: has switch trees %v, want %v", seed.name, got, want)
		}
		if r := fc.Recipe(); r.Window != seed.opt().Window || r.Horizon != seed.opt().Horizon {
			t.Errorf("%s: recipe %+v, the seed's options say window %d, horizon %d", seed.name, r, seed.opt().Window, seed.opt().Horizon)
		}
		f, err := fc.Forecast(context.Background(), s.Values)
		if err != nil {
			t.Fatalf("%s: %v", seed.name, err)
		}
		for _, p := range f.Points {
			if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) || !(p.P10 <= p.Value && p.Value <= p.P90) {
				t.Errorf("%s: point %+v", seed.name, p)
			}
		}
	}
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
	if fc.switchTrees != nil && fc.Needs() <= 1<<10 {
		// A switch over the trees forecasts or says why not.
		long := make([]float64, max(fc.Needs(), SwitchTreeHistory)+SwitchLags)
		for i := range long {
			long[i] = 50 + math.Sin(float64(i))
		}
		sw := NewSwitch(fc)
		if err := sw.Fit(baseline.Series{Values: long}, len(long)*70/85); err == nil {
			if _, err := sw.Point(1); err != nil && !errors.Is(err, baseline.ErrShortHistory) {
				t.Logf("switch: %v", err)
			}
		}
	}
}

// FuzzDecode feeds Decode arbitrary bytes: mostly not zips, or zips whose
// CRC fails after a mutation.
func FuzzDecode(f *testing.F) {
	f.Add(fuzzArtifact(f, "tiny.zip"))
	f.Add([]byte("hello"))
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) { checkDecoded(t, data) })
}

// FuzzDecodeEntries mutates the manifest and the network inside a valid
// zip, so mutations reach the JSON and safetensors readers past the CRC.
func FuzzDecodeEntries(f *testing.F) {
	good := fuzzArtifact(f, "tiny.zip")
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
		checkDecoded(t, zipOf(t, zipEntry{manifestName, manifest}, zipEntry{memberEntry(0), member}))
	})
}

// FuzzDecodeSwitchTrees mutates the manifest and the switch trees' entry of
// a valid artifact with them (its network kept).
func FuzzDecodeSwitchTrees(f *testing.F) {
	fuzzManifestAnd(f, "tiny_switch_trees.zip", switchTreesEntry)
}

// fuzzManifestAnd mutates the manifest and the entry name of the seed
// artifact (its network kept), so that mutations reach that entry's checks
// past the zip's CRC.
func fuzzManifestAnd(f *testing.F, seed, name string) {
	good := fuzzArtifact(f, seed)
	member := entry(f, good, memberEntry(0))
	f.Add(entry(f, good, manifestName), entry(f, good, name))
	f.Fuzz(func(t *testing.T, manifest, data []byte) {
		checkDecoded(t, zipOf(t, zipEntry{manifestName, manifest}, zipEntry{memberEntry(0), member}, zipEntry{name, data}))
	})
}

// zipEntry is one file of a zip zipOf writes.
type zipEntry struct {
	name string
	data []byte
}

// zipOf writes a zip of the entries, in order.
func zipOf(t *testing.T, entries ...zipEntry) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
