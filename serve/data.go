package serve

import (
	"fmt"
	"slices"
	"time"

	"github.com/novacron/perfpredict/baseline"
)

// A Service reads metrics as baseline.Series, one per metric: the series'
// Name is the metric's, its Values are in original units, and every
// series of one history holds the same Times (one row per step,
// PROTOCOL.md: rows neither dropped nor filled). baseline.LoadColumns
// reads a file's columns that way.

// prefix begins a message about the data named name: "serve: NAME: ", or
// "serve: " for unnamed data.
func prefix(name string) string {
	if name == "" {
		return "serve: "
	}
	return "serve: " + name + ": "
}

// aligned checks that ss are the metrics of one history: at least one
// series, each with one value per time, every one at the first's times.
// Its errors wrap ErrBadInput and name the series at fault (and the data,
// by name).
func aligned(name string, ss []baseline.Series) error {
	if len(ss) == 0 {
		return fmt.Errorf("%sno metric series: %w", prefix(name), ErrBadInput)
	}
	times := ss[0].Times
	for _, s := range ss {
		if len(s.Values) != len(s.Times) {
			return fmt.Errorf("%sseries %q has %d values for %d times: %w", prefix(name), s.Name, len(s.Values), len(s.Times), ErrBadInput)
		}
		if len(s.Times) != len(times) {
			return fmt.Errorf("%sseries %q has %d times, series %q %d: the metrics must share their times: %w",
				prefix(name), s.Name, len(s.Times), ss[0].Name, len(times), ErrBadInput)
		}
		if len(times) == 0 || &s.Times[0] == &times[0] {
			continue // the same array
		}
		for i, t := range s.Times {
			if !t.Equal(times[i]) {
				return fmt.Errorf("%sseries %q at row %d is at %s, series %q at %s: the metrics must share their times: %w",
					prefix(name), s.Name, i+1, t.Format(time.RFC3339), ss[0].Name, times[i].Format(time.RFC3339), ErrBadInput)
			}
		}
	}
	return nil
}

// rows is the number of rows of aligned series.
func rows(ss []baseline.Series) int { return len(ss[0].Times) }

// names are the series' names: the metrics they hold.
func names(ss []baseline.Series) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	return out
}

// metricColumns maps metrics to the indices of the series of ss holding
// them.
func metricColumns(name string, ss []baseline.Series, metrics []string) ([]int, error) {
	cols := make([]int, len(metrics))
	for i, m := range metrics {
		c := slices.IndexFunc(ss, func(s baseline.Series) bool { return s.Name == m })
		if c < 0 {
			if name == "" {
				name = "the data"
			}
			return nil, fmt.Errorf("serve: %s has no metric %q (it has %v): %w", name, m, names(ss), ErrBadInput)
		}
		cols[i] = c
	}
	return cols, nil
}
