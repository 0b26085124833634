package baseline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// Window is one labelled anomaly window, both ends included.
type Window struct {
	Start, End time.Time
}

// Contains reports whether t lies in the window.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && !t.After(w.End) }

// Labels are anomaly windows by data file, as NAB's
// combined_windows.json holds them: {"realAWSCloudwatch/FILE.csv":
// [["start", "end"], ...], ...}, timestamps in UTC.
type Labels map[string][]Window

// maxLabelBytes bounds what LoadLabels reads: NAB's file is 20 KB.
const maxLabelBytes = 16 << 20

// LoadLabels reads a label file (ParseLabels).
func LoadLabels(file string) (Labels, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, badInput("%v", err)
	}
	defer f.Close()
	return ParseLabels(f, file)
}

// ParseLabels reads labels in NAB's windows format from r; name (the file)
// prefixes errors, which say the line, the key and the window at fault.
func ParseLabels(r io.Reader, name string) (Labels, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxLabelBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > maxLabelBytes {
		return nil, badInput("%s: more than %d bytes; not a label file", name, maxLabelBytes)
	}
	var raw map[string][][]string
	if err := json.Unmarshal(b, &raw); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, badInput("%s:%d: %v", name, lineOf(b, se.Offset), err)
		case errors.As(err, &te):
			return nil, badInput("%s:%d: want {\"FILE\": [[\"start\", \"end\"], ...]}: %v", name, lineOf(b, te.Offset), err)
		}
		return nil, badInput("%s: %v", name, err)
	}
	if raw == nil {
		return nil, badInput("%s: want an object {\"FILE\": [[\"start\", \"end\"], ...]}, got null", name)
	}
	out := make(Labels, len(raw))
	for key, ws := range raw {
		if key == "" {
			return nil, badInput("%s: an empty file name as key", name)
		}
		list := make([]Window, 0, len(ws))
		for i, w := range ws {
			if len(w) != 2 {
				return nil, badInput("%s: %q window %d: %d timestamps, want 2 (start, end)", name, key, i+1, len(w))
			}
			start, err := parseLabelTime(w[0])
			if err != nil {
				return nil, badInput("%s: %q window %d start: %v", name, key, i+1, err)
			}
			end, err := parseLabelTime(w[1])
			if err != nil {
				return nil, badInput("%s: %q window %d end: %v", name, key, i+1, err)
			}
			if end.Before(start) {
				return nil, badInput("%s: %q window %d ends (%s) before it starts (%s)", name, key, i+1, w[1], w[0])
			}
			list = append(list, Window{Start: start, End: end})
		}
		sort.Slice(list, func(a, b int) bool { return list[a].Start.Before(list[b].Start) })
		out[key] = list
	}
	return out, nil
}

// parseLabelTime reads NAB's "2014-02-26 13:45:00.000000" or any layout
// LoadCSV accepts.
func parseLabelTime(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02 15:04:05.999999999", strings.TrimSpace(s)); err == nil {
		return t, nil
	}
	return parseTime(s)
}

// lineOf is the 1-based line of byte offset off in b.
func lineOf(b []byte, off int64) int {
	off = min(max(off, 0), int64(len(b)))
	return 1 + bytes.Count(b[:off], []byte("\n"))
}

// For returns the windows of the series called name: the key equal to
// name, else the one key whose file name without ".csv" is name (how
// perfpredict names a series read from a one-column file). A series with
// no key, or whose name matches several keys, has no windows.
func (l Labels) For(name string) []Window {
	if ws, ok := l[name]; ok {
		return ws
	}
	var found []Window
	n := 0
	for key, ws := range l {
		if strings.TrimSuffix(path.Base(key), ".csv") == name {
			found, n = ws, n+1
		}
	}
	if n != 1 {
		return nil
	}
	return found
}
