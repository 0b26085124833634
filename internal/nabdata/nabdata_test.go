package nabdata

import (
	"os"
	"path/filepath"
	"testing"
)

// Every named series is shipped, once.
func TestSeriesAreShipped(t *testing.T) {
	seen := map[string]bool{}
	s := Series()
	if len(s) != 13 {
		t.Fatalf("%d series, want the 13 of the published comparison", len(s))
	}
	for _, p := range s {
		if seen[p] {
			t.Errorf("%s listed twice", p)
		}
		seen[p] = true
		if _, err := os.Stat(filepath.Join("..", "..", "testdata", "nab", p)); err != nil {
			t.Error(err)
		}
	}
	s[0] = "changed"
	if Series()[0] == "changed" {
		t.Error("Series shares its slice with callers")
	}
}
