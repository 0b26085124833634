package baseline

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tel.csv")
	csv := "timestamp,latency_ms,cpu\n2026-01-01 00:10:00,3,0.5\n2026-01-01 00:00:00,1,0.1\n2026-01-01 00:05:00,2,0.3\n"
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	ss, err := LoadColumns(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Columns in name order, whatever the file's order.
	if len(ss) != 2 || ss[0].Name != "tel:cpu" || ss[1].Name != "tel:latency_ms" {
		t.Fatalf("series %v", ss)
	}
	// Sorted by time, each column with its own rows.
	if ss[1].Values[0] != 1 || ss[1].Values[2] != 3 || ss[0].Values[0] != 0.1 || !ss[0].Times[0].Before(ss[0].Times[1]) {
		t.Fatalf("values %v %v", ss[0].Values, ss[1].Values)
	}
	one, err := LoadColumns(path, []string{"cpu"})
	if err != nil || len(one) != 1 || one[0].Values[2] != 0.5 {
		t.Fatalf("cpu only: %v, %v", one, err)
	}
	if _, err := LoadColumns(path, []string{"mem"}); !errors.Is(err, ErrBadInput) {
		t.Fatalf("missing column: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("timestamp,a,b\n2026-01-01 00:00:00,1,x\n"), 0o644)
	if _, err := LoadColumns(bad, nil); !errors.Is(err, ErrBadInput) {
		t.Fatalf("bad number: %v", err)
	}
}
