package baseline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadColumns fuzzes the every-column path train and evaluate use
// (LoadColumns): an error marked as bad input, or one sorted series per
// value column with as many values as times, under a small row limit so
// the limit's error path is reached too.
func FuzzReadColumns(f *testing.F) {
	f.Add("timestamp,cpu,mem\n2014-02-14 14:30:00,1,2\n2014-02-14 14:35:00,3,4\n", 10)
	f.Add("time,a\n1700000000,1\n1699999999,3\n1699999998,5\n", 2)
	f.Add("value,timestamp\n1,2014-01-01\n", 1)
	f.Add("timestamp\n2014-01-01\n", 5)
	f.Fuzz(func(t *testing.T, in string, limit int) {
		if limit < 1 || limit > 1000 {
			limit = 1000
		}
		defer setMaxRows(limit)()
		ss, err := readCSV(strings.NewReader(in), "fuzz.csv", "fuzz", nil, true)
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("error not marked as bad input: %v", err)
			}
			return
		}
		if len(ss) == 0 {
			t.Fatal("no series and no error")
		}
		for _, s := range ss {
			if !strings.HasPrefix(s.Name, "fuzz:") || len(s.Values) == 0 || len(s.Values) != len(s.Times) || len(s.Values) > limit {
				t.Fatalf("%q: %d values, %d times, limit %d", s.Name, len(s.Values), len(s.Times), limit)
			}
			for i := 1; i < len(s.Times); i++ {
				if s.Times[i].Before(s.Times[i-1]) {
					t.Fatalf("%s: not sorted at %d", s.Name, i)
				}
			}
		}
	})
}

// setMaxRows lowers the loader's row limit for a test and returns the
// function that restores it.
func setMaxRows(n int) func() {
	old := maxRows
	maxRows = n
	return func() { maxRows = old }
}

// TestLoadColumnsRowLimit: a file longer than the row limit fails early
// with an error naming the file and the limit, instead of being read
// whole into memory (a 1 GB CSV is 40 million rows, more than the machine
// can train on).
func TestLoadColumnsRowLimit(t *testing.T) {
	defer setMaxRows(100)()
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	for i := range 101 {
		fmt.Fprintf(&b, "%d,%d\n", 1700000000+300*i, i)
	}
	path := filepath.Join(t.TempDir(), "long.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadColumns(path, nil)
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "100 rows") {
		t.Fatalf("err = %v, want a bad-input error naming %s and the limit of 100 rows", err, path)
	}
	if _, err := LoadCSV(path, ""); !errors.Is(err, ErrBadInput) {
		t.Fatalf("LoadCSV: err = %v, want the same limit", err)
	}
	// At the limit the file loads.
	b.Reset()
	b.WriteString("timestamp,value\n")
	for i := range 100 {
		fmt.Fprintf(&b, "%d,%d\n", 1700000000+300*i, i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ss, err := LoadColumns(path, nil)
	if err != nil || ss[0].Len() != 100 {
		t.Fatalf("100 rows at a limit of 100: %v", err)
	}
}
