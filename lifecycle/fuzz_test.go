package lifecycle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"v1.2.3", "1.0.0", "v01.2.3", "v1.2", "v999999999.0.0", "v1.2.3-rc1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		w, err := ParseVersion(v.String())
		if err != nil || w != v {
			t.Fatalf("%q -> %v -> %v, %v", s, v, w, err)
		}
	})
}

// FuzzIndex feeds arbitrary bytes as index.json and manifest.json: the
// registry reports an error naming the file or lists the version with its
// problem, and never panics or serves an unverified version.
func FuzzIndex(f *testing.F) {
	f.Add([]byte(`{"format":"perfpredict-registry/1","seq":3,"models":{"m":{"active":"v1.0.0","activations":["v1.0.0"],"versions":{"v1.0.0":{"status":"Active","manifest_sha256":"x"}}}}}`), []byte(`{"model":"m"}`))
	f.Add([]byte(`{"format":"perfpredict-registry/1","models":{"m":{"versions":{"../../x":{"status":"Candidate"}}}}}`), []byte(`{}`))
	f.Add([]byte(`{"format":"perfpredict-registry/1","models":{"m":null}}`), []byte(`null`))
	f.Add([]byte(`[]`), []byte(`[]`))
	f.Fuzz(func(t *testing.T, index, manifest []byte) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "versions", "m", "v1.0.0"), 0o755)
		os.WriteFile(filepath.Join(dir, "versions", "m", "v1.0.0", manifestName), manifest, 0o644)
		os.WriteFile(filepath.Join(dir, indexName), index, 0o644)
		r := &Registry{dir: dir}
		if _, err := r.List(""); err != nil && !strings.Contains(err.Error(), "index.json") && !strings.Contains(err.Error(), "not found") {
			t.Fatalf("error without the file: %v", err)
		}
		if info, err := r.Active("m"); err == nil {
			t.Fatalf("served %+v from a fuzzed registry", info)
		}
	})
}
