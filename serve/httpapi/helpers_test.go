package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/internal/synth"
)

var (
	tinyMu  sync.Mutex
	tinyFCs = map[uint64]*forecast.Forecaster{}
)

// tinyForecaster is a forecaster small enough to train in a test (the
// design's horizon of 30 steps, two networks); seeds give different ones.
// Each call returns its own copy (the handler closes what it serves).
func tinyForecaster(t testing.TB, seed uint64) *forecast.Forecaster {
	t.Helper()
	tinyMu.Lock()
	defer tinyMu.Unlock()
	fc := tinyFCs[seed]
	if fc == nil {
		o := forecast.DefaultOptions()
		o.Window, o.ScaleWindow, o.Horizon = 8, 16, 30
		o.Hidden, o.Head, o.Epochs, o.Ensemble, o.BatchSize, o.Stride = 4, []int{8}, 2, 2, 32, 2
		o.Seed = seed
		o.SwitchTrees.Params.Rounds = 20 // small trees: the followers' tests run the switch of three
		series := []baseline.Series{{Name: "a", Values: synth.Walk(1200, 1)}, {Name: "b", Values: synth.Walk(1000, 2)}}
		var err error
		if fc, err = forecast.Train(context.Background(), series, o); err != nil {
			t.Fatal(err)
		}
		tinyFCs[seed] = fc
	}
	var buf bytes.Buffer
	if err := fc.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	cp, err := forecast.Decode(buf.Bytes(), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func fiveMinutes(n int) []time.Time {
	ts := make([]time.Time, n)
	for i := range ts {
		ts[i] = t0.Add(time.Duration(i) * 5 * time.Minute)
	}
	return ts
}

// post sends body (a string as is, anything else as JSON) and decodes the
// answer into out (when not nil); it returns the status and the raw body.
func post(t testing.TB, url string, body any, out any) (int, string) {
	t.Helper()
	var r io.Reader
	if s, ok := body.(string); ok {
		r = strings.NewReader(s)
	} else {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	resp, err := http.Post(url, "application/json", r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: %v: %s", url, err, raw)
		}
	}
	return resp.StatusCode, string(raw)
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// newServer serves a handler with opt on a real listener on 127.0.0.1.
func newServer(t testing.TB, opt Options) (*Handler, *httptest.Server) {
	t.Helper()
	if opt.Logf == nil {
		opt.Logf = t.Logf
	}
	h, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		h.Close()
	})
	return h, srv
}

// fakeSource serves named series from memory; block, when set, holds a
// call until it is closed.
type fakeSource struct {
	series map[string]baseline.Series
	block  chan struct{}
	fail   error
	gapAt  int // a missing point (0: none), refused in any range holding it
	// blockAt, when positive, holds only the calls asking for that many
	// points.
	blockAt int
	// upTo, when positive, is the number of a series' points observed so
	// far: Last answers the last n of them. asked records each call's n.
	mu    sync.Mutex
	upTo  int
	asked []int
}

// setUpTo sets upTo.
func (f *fakeSource) setUpTo(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.upTo = n
}

// calls returns the n of the calls since the last one and forgets them.
func (f *fakeSource) calls() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.asked
	f.asked = nil
	return out
}

func (f *fakeSource) Last(ctx context.Context, name string, n int) (baseline.Series, error) {
	if f.block != nil && (f.blockAt == 0 || n == f.blockAt) {
		select {
		case <-f.block:
		case <-ctx.Done():
			return baseline.Series{}, ctx.Err()
		}
	}
	if f.fail != nil {
		return baseline.Series{}, f.fail
	}
	s, ok := f.series[name]
	if !ok {
		return baseline.Series{}, fmt.Errorf("fake: %q: %w", name, ErrUnknownSeries)
	}
	f.mu.Lock()
	f.asked = append(f.asked, n)
	if f.upTo > 0 && f.upTo < len(s.Values) {
		s.Times, s.Values = s.Times[:f.upTo], s.Values[:f.upTo]
	}
	f.mu.Unlock()
	if f.gapAt > 0 && len(s.Values)-n <= f.gapAt {
		return baseline.Series{}, fmt.Errorf("fake: %q has no value at point %d: %w", name, f.gapAt, baseline.ErrBadInput)
	}
	if len(s.Values) > n {
		s.Times, s.Values = s.Times[len(s.Times)-n:], s.Values[len(s.Values)-n:]
	}
	return s, nil
}

var errDown = errors.New("fake: connection refused")

// listen opens a free port on 127.0.0.1.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func fmtS(f string, a ...any) string { return fmt.Sprintf(f, a...) }
