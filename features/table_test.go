package features

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestRowError: a check after parsing names the row as the parser would,
// in every format.
func TestRowError(t *testing.T) {
	for _, c := range []struct {
		format Format
		in     string
		want   string
	}{
		{FormatCSV, "timestamp,a,b\n2024-01-01 00:00:00,1,2\n\n2024-01-01 00:05:00,,3\n", `in:4: field "a": missing`},
		{FormatNDJSON, "{\"ts\":1700000000,\"a\":1}\n{\"ts\":1700000060,\"a\":null}\n", `in:2: field "a": missing`},
		{FormatJSON, `[{"ts":1700000000,"a":1}, {"ts":1700000060,"a":null}]`, `in: byte 26: field "a": missing`},
		{FormatJSON, `{"timestamp":[1700000000,1700000060],"a":[1,null]}`, `in: field "a[1]": missing`},
	} {
		tb, _, err := read(t, c.in, c.format, LoadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", c.format, err)
		}
		col := tb.Values[0]
		row := -1
		for i, v := range col {
			if math.IsNaN(v) {
				row = i
				break
			}
		}
		if row < 0 {
			t.Fatalf("%s: no missing value in %v", c.format, col)
		}
		if got := tb.RowError(row, "a", errors.New("missing")).Error(); got != c.want {
			t.Errorf("%s: %q, want %q", c.format, got, c.want)
		}
	}
	// A table built in memory has no locations: the row number stands in.
	tb := &Table{Names: []string{"a"}, Times: []int64{0}, Values: [][]float64{{1}}}
	if got := tb.RowError(0, "a", errors.New("x")).Error(); got != `: field "a (row 1)": x` {
		t.Errorf("in-memory table: %q", got)
	}
}

// TestMaxRows: the row past the limit fails as soon as it is read, naming
// its line; at the limit the file loads.
func TestMaxRows(t *testing.T) {
	var b strings.Builder
	b.WriteString("timestamp,v\n")
	for i := range 5 {
		fmt.Fprintf(&b, "%d,%d\n", 1700000000+60*i, i)
	}
	if _, _, err := read(t, b.String(), FormatCSV, LoadOptions{MaxRows: 5}); err != nil {
		t.Fatalf("5 rows at a limit of 5: %v", err)
	}
	_, _, err := read(t, b.String(), FormatCSV, LoadOptions{MaxRows: 4})
	if err == nil || !strings.HasPrefix(err.Error(), "in:6: more than 4 rows") {
		t.Errorf("5 rows at a limit of 4: %v", err)
	}
	_, _, err = read(t, `{"timestamp":[1700000000,1700000060,1700000120],"v":[1,2,3]}`, FormatJSON, LoadOptions{MaxRows: 2})
	if err == nil || !strings.Contains(err.Error(), "more than 2 rows") {
		t.Errorf("object of arrays past the limit: %v", err)
	}
}

// TestTimestampColumn: a CSV file needs a named timestamp column, unless
// it is read Untimed; the dates NAB-like files use parse.
func TestTimestampColumn(t *testing.T) {
	_, _, err := read(t, "a,b\n1,2\n", FormatCSV, LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), `in:1: field "header": no timestamp column in "a,b"`) {
		t.Errorf("no timestamp column: %v", err)
	}
	tb, _, err := read(t, "time,a,b\nx,1,2\ny,3,4\n", FormatCSV, LoadOptions{Untimed: true, Metrics: []string{"b", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if tb.Names[0] != "a" || tb.Values[1][1] != 4 || tb.Times[1] != 1 {
		t.Errorf("untimed: %+v", tb)
	}
	tb, _, err = read(t, "date,a\n2024-01-02,1\n2024-01-02 00:05,2\n", FormatCSV, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := tb.Times[1] - tb.Times[0]; d != 300e9 {
		t.Errorf("dates without seconds: %d ns apart, want 5 minutes", d)
	}
}
