package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/serve"
	"github.com/novacron/perfpredict/serve/httpapi"
)

// BenchmarkServeHTTP is the HTTP service (serve/httpapi, the handler of
// `perfpredict serve`) under 64 concurrent clients on a real 127.0.0.1
// listener, each POSTing /v1/forecast with the same 200-value history,
// b.N requests in all (closed loop: a client sends its next request when
// its answer arrives). Its anchors run in the same benchmark binary on the
// same forecaster and history: "forecaster" is 64 goroutines calling
// Forecaster.Forecast directly, "predictor" the same calls through
// serve.Predictor (the pooled, micro-batching layer the handler uses).
// Each reports req/s and the p50 and p99 latency of a request in ms; the
// difference between "http" and "predictor" is the cost of HTTP, JSON and
// the handler (admission, metrics, answer shaping).
//
// Bounded: run with -benchtime=Nx (e.g. 3000x).
func BenchmarkServeHTTP(b *testing.B) {
	fc := defaultForecaster(b)
	history := benchSeries[0].Values[:200]
	ctx := context.Background()
	const clients = 64
	// closed runs b.N calls of call on clients goroutines and reports.
	closed := func(b *testing.B, call func() error) {
		lat := make([]time.Duration, b.N)
		var next atomic.Int64
		var wg sync.WaitGroup
		var failed atomic.Int64
		b.ResetTimer()
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(b.N) {
						return
					}
					t := time.Now()
					if err := call(); err != nil {
						failed.Add(1)
						b.Error(err)
						return
					}
					lat[i] = time.Since(t)
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		if failed.Load() > 0 {
			return
		}
		slices.Sort(lat)
		q := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))].Seconds() * 1e3 }
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		b.ReportMetric(q(0.50), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
		b.ReportMetric(0, "ns/op") // req/s says it; ns/op of a concurrent loop misleads
	}
	b.Run("forecaster", func(b *testing.B) {
		closed(b, func() error {
			_, err := fc.Forecast(ctx, history)
			return err
		})
	})
	b.Run("predictor", func(b *testing.B) {
		p, err := serve.New(fc, serve.Options{Version: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		closed(b, func() error {
			_, err := p.Predict(ctx, serve.Input{History: history})
			return err
		})
	})
	b.Run("http", func(b *testing.B) {
		h, err := httpapi.New(httpapi.Options{MaxInFlight: clients, MaxQueue: clients})
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close()
		// The handler closes what it serves: give it its own copy.
		var buf bytes.Buffer
		if err := fc.Encode(&buf); err != nil {
			b.Fatal(err)
		}
		own, err := forecast.Decode(buf.Bytes(), "bench")
		if err != nil {
			b.Fatal(err)
		}
		if err := h.Load(own, "bench"); err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
		body, _ := json.Marshal(map[string]any{"values": history})
		url := srv.URL + "/v1/forecast"
		closed(b, func() error {
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var ans serve.ForecastAnswer
			if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != 200 || ans.Source != serve.SourceModel {
				return &httpErr{resp.StatusCode}
			}
			return nil
		})
	})
}

type httpErr struct{ code int }

func (e *httpErr) Error() string { return "status " + http.StatusText(e.code) }
