package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/novacron/perfpredict/baseline"
)

// A stand-in server's grid: five steps of 5 minutes from t0.
var (
	t0     = time.Unix(1700000000, 0)
	step5m = 5 * time.Minute
)

// stub answers every request with code and body, recording the requests.
type stub struct {
	code int
	body string
	reqs []*http.Request
}

func (s *stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.reqs = append(s.reqs, r)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(s.code)
	fmt.Fprint(w, s.body)
}

// matrix is a success envelope around the given series.
func matrix(series ...string) string {
	return `{"status":"success","data":{"resultType":"matrix","result":[` + strings.Join(series, ",") + `]}}`
}

// at is the unix time of step k of the stand-in grid, as the API writes it.
func at(k int) string { return fmt.Sprint(t0.Add(time.Duration(k) * step5m).Unix()) }

func startStub(t *testing.T, s *stub) Prometheus {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return Prometheus{URL: srv.URL, Query: "cpu", Start: t0, End: t0.Add(4 * step5m), Step: step5m}
}

func TestQueryRangeSuccess(t *testing.T) {
	// Both series have values at steps 1 to 3 of 0 to 4: the grid is
	// trimmed to those, the empty ends are not gaps.
	s := &stub{code: 200, body: matrix(
		`{"metric":{"__name__":"cpu","instance":"b"},"values":[[`+at(1)+`,"4"],[`+at(2)+`,"5"],[`+at(3)+`,"6"]]}`,
		`{"metric":{"__name__":"cpu","instance":"a"},"values":[ [ `+at(1)+` , "1" ],[`+at(2)+`.000,"2e0"],[`+at(3)+`,"3"]]}`,
	)}
	p := startStub(t, s)
	got, err := p.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != `cpu{instance="a"}` || got[1].Name != `cpu{instance="b"}` {
		t.Fatalf("got %v, want cpu a then b", got)
	}
	if !slices.Equal(got[0].Values, []float64{1, 2, 3}) || !slices.Equal(got[1].Values, []float64{4, 5, 6}) {
		t.Errorf("values %v %v", got[0].Values, got[1].Values)
	}
	if !got[0].Times[0].Equal(t0.Add(step5m)) || len(got[0].Times) != 3 {
		t.Errorf("times %v, want 3 from %v", got[0].Times, t0.Add(step5m))
	}

	if len(s.reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(s.reqs))
	}
	r := s.reqs[0]
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/query_range" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("request %s %s (%s), want a form POSTed to /api/v1/query_range", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	want := url.Values{"query": {fresh("cpu", step5m)}, "start": {"1700000000"}, "end": {"1700001200"}, "step": {"300"}}
	if fmt.Sprint(r.PostForm) != fmt.Sprint(want) {
		t.Errorf("form %v, want %v", r.PostForm, want)
	}
}

// Times go as unix seconds with the milliseconds as a fraction, as
// client_golang sends them.
func TestFormatTime(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{t0, "1700000000"},
		{t0.Add(123 * time.Millisecond), "1700000000.123"},
		{time.UnixMilli(-1500), "-1.5"},
	} {
		if got := formatTime(c.t); got != c.want {
			t.Errorf("formatTime(%v) = %s, want %s", c.t, got, c.want)
		}
	}
}

// A server that refuses POST is asked again with GET and the same
// parameters.
func TestQueryRangeGetFallback(t *testing.T) {
	var methods []string
	var get url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		methods = append(methods, r.Method)
		if r.Method != http.MethodGet {
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		get = r.URL.Query()
		fmt.Fprint(w, matrix(`{"metric":{"__name__":"cpu"},"values":[[`+at(0)+`,"1"]]}`))
	}))
	defer srv.Close()
	p := Prometheus{URL: srv.URL, Query: "cpu", Start: t0, End: t0, Step: step5m}
	got, err := p.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(methods, []string{"POST", "GET"}) {
		t.Errorf("methods %v, want POST then GET", methods)
	}
	if get.Get("query") != fresh("cpu", step5m) || get.Get("start") != "1700000000" || get.Get("step") != "300" {
		t.Errorf("GET parameters %v", get)
	}
	if len(got) != 1 || got[0].Values[0] != 1 {
		t.Errorf("got %v", got)
	}
}

// A server behind a path prefix is asked under that prefix.
func TestQueryRangePathPrefix(t *testing.T) {
	for _, prefix := range []string{"/prom", "/prom/"} {
		var path string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			path = r.URL.Path
			if path != "/prom/api/v1/query_range" {
				http.NotFound(w, r)
				return
			}
			fmt.Fprint(w, matrix(`{"metric":{"__name__":"cpu"},"values":[[`+at(0)+`,"1"]]}`))
		}))
		p := Prometheus{URL: srv.URL + prefix, Query: "cpu", Start: t0, End: t0, Step: step5m}
		if _, err := p.Load(context.Background()); err != nil {
			t.Errorf("URL %s: %v (path asked: %s)", p.URL, err, path)
		}
		srv.Close()
	}
}

// Each answer is an error of Load's, the input's fault (bad) or not.
func TestQueryRangeErrors(t *testing.T) {
	ok := func(v string) string { return `{"metric":{"__name__":"cpu"},"values":[[` + at(0) + `,"` + v + `"]]}` }
	for _, c := range []struct {
		name string
		code int
		body string
		want string
		bad  bool
	}{
		{"bad_data", 400, `{"status":"error","errorType":"bad_data","error":"1:4: parse error: unclosed left brace"}`,
			"prometheus URL: query cpu: 1:4: parse error: unclosed left brace", true},
		{"bad_data about fresh's wrapper", 400, `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:25: parse error: expected type instant vector in call to function \"timestamp\", got scalar"}`,
			"query cpu: a scalar, want an instant vector", true},
		{"5xx with an error envelope", 503, `{"status":"error","errorType":"timeout","error":"query timed out in query execution"}`,
			"query cpu from 2023-11-14T22:13:20Z to 2023-11-14T22:33:20Z: timeout: query timed out", false},
		{"5xx from a proxy", 502, "<html>\n<h1>Bad Gateway</h1>\n</html>\n",
			`HTTP 502 Bad Gateway: "<html>\n<h1>Bad Gateway</h1>\n</html>"`, false},
		{"4xx with a success envelope", 404, matrix(), "HTTP 404 Not Found", false},
		{"error envelope with 200", 200, `{"status":"error","errorType":"execution","error":"boom"}`, "execution: boom", false},
		{"malformed JSON", 200, `{"status":"success","data":`, "malformed response: unexpected end of JSON input", false},
		{"no status", 200, `{"data":{"resultType":"matrix","result":[]}}`, `malformed response: status ""`, false},
		{"unquoted value", 200, matrix(`{"metric":{},"values":[[` + at(0) + `,1]]}`), "malformed response", false},
		{"three-element point", 200, matrix(`{"metric":{},"values":[[` + at(0) + `,"1","2"]]}`), "malformed response", false},
		{"vector", 200, `{"status":"success","data":{"resultType":"vector","result":[]}}`,
			"query cpu: the server answered a vector, want a matrix", false},
		{"native histograms", 200, matrix(`{"metric":{"__name__":"h"},"histograms":[[` + at(0) + `,{"count":"1","sum":"2","buckets":[[0,"0","1","1"]]}]]}`),
			"series h holds native histograms", true},
		{"NaN", 200, matrix(ok("NaN")), "series cpu at 2023-11-14T22:13:20Z: NaN is not a finite number", true},
		{"+Inf", 200, matrix(ok("+Inf")), "+Inf is not a finite number", true},
		{"off the grid", 200, matrix(`{"metric":{"__name__":"cpu"},"values":[[1700000000.001,"1"]]}`),
			"a point at 2023-11-14T22:13:20.001Z, off the grid", false},
		{"gap", 200, matrix(`{"metric":{"__name__":"cpu"},"values":[[` + at(0) + `,"1"],[` + at(2) + `,"1"]]}`),
			"series cpu has no value at 2023-11-14T22:18:20Z", true},
		{"no series", 200, matrix(), "returned no series", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := startStub(t, &stub{code: c.code, body: c.body})
			_, err := p.Load(context.Background())
			if err == nil {
				t.Fatalf("no error, want one containing %q", c.want)
			}
			if msg := strings.ReplaceAll(err.Error(), p.URL, "URL"); !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want it to contain %q", msg, c.want)
			}
			if bad := errors.Is(err, baseline.ErrBadInput); bad != c.bad {
				t.Errorf("error %q: wraps ErrBadInput %v, want %v", err, bad, c.bad)
			}
		})
	}
}

// A body over the limit is an error, whether its length is announced or
// it comes in chunks.
func TestQueryRangeBodyLimit(t *testing.T) {
	body := matrix(`{"metric":{"__name__":"cpu"},"values":[[` + at(0) + `,"1"]]}`)
	for _, chunked := range []bool{false, true} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if chunked {
				w.(http.Flusher).Flush()
			}
			fmt.Fprint(w, body)
		}))
		base, _ := url.Parse(srv.URL)
		_, _, err := queryRange(context.Background(), base, "cpu", t0, t0, step5m, int64(len(body)-1))
		want := fmt.Sprintf("the response is more than %d bytes", len(body)-1)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("chunked %v: error %v, want %q", chunked, err, want)
		}
		if _, m, err := queryRange(context.Background(), base, "cpu", t0, t0, step5m, int64(len(body))); err != nil || len(m) != 1 {
			t.Errorf("chunked %v: a body of exactly the limit: %v, %v", chunked, m, err)
		}
		srv.Close()
	}
}

// Cancelling the context stops a request the server never answers.
func TestQueryRangeCancel(t *testing.T) {
	asked, done := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(asked)
		<-done // the server does not notice the client leave while a POST body is unread
	}))
	defer srv.Close()
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-asked
		cancel()
	}()
	p := Prometheus{URL: srv.URL, Query: "cpu", Start: t0, End: t0, Step: step5m}
	_, err := p.Load(ctx)
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("error %v, want context canceled", err)
	}
	if errors.Is(err, baseline.ErrBadInput) {
		t.Errorf("error %q wraps ErrBadInput", err)
	}
}

// The decoder never panics; a point it accepts, model.SamplePair (what
// client_golang decoded into) reads the same.
func FuzzDecodeQueryRange(f *testing.F) {
	f.Add([]byte(matrix(`{"metric":{"__name__":"cpu","a":"b"},"values":[[1700000000.123,"1"],[1700000300,"NaN"]]}`)))
	f.Add([]byte(matrix(`{"metric":{},"values":[[-1.5,"+Inf"]],"histograms":[[1,{"count":"1"}]]}`)))
	f.Add([]byte(`{"status":"error","errorType":"bad_data","error":"parse error"}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}`))
	f.Add([]byte(`[1700000000.5, "-0.25e3"]`))
	f.Add([]byte(`[1.2345,"0x1p-2"]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		resultType, m, err := decodeQueryRange(body)
		if err == nil && (resultType == "" || (resultType != "matrix" && m != nil)) {
			t.Errorf("result type %q with %d series", resultType, len(m))
		}
		var pt point
		if json.Unmarshal(body, &pt) != nil {
			return
		}
		var sp model.SamplePair
		if err := json.Unmarshal(body, &sp); err != nil {
			t.Fatalf("point %s: read as %v %v, but model.SamplePair fails: %v", body, pt.t, pt.v, err)
		}
		if sp.Timestamp != pt.t || !(float64(sp.Value) == pt.v || math.IsNaN(pt.v) && math.IsNaN(float64(sp.Value))) {
			t.Errorf("point %s: read as %v %v, model.SamplePair as %v %v", body, pt.t, pt.v, sp.Timestamp, sp.Value)
		}
	})
}
