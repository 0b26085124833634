package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// This file is a client of the one endpoint Load needs, /api/v1/query_range,
// written with net/http and encoding/json. It replaces client_golang's api
// packages, which pull json-iterator and modern-go/reflect2 into the build
// of cmd/perfpredict (seconds of compile for one HTTP call). It sends what
// client_golang sends and reports server errors the same way
// ("bad_data: ..."), so Load's messages did not change.

// maxBody bounds the bytes read of one response, so a hostile or broken
// server cannot exhaust memory. A point is about 25 bytes of JSON
// ([1700000000.123,"0.5"],), so a chunk of maxValues points, the most Load
// keeps, fits with room for long values and labels.
const maxBody = 32 * maxValues

// apiError is an error the server reported in the API's envelope:
// {"status":"error","errorType":"bad_data","error":"..."}.
type apiError struct{ Type, Msg string }

func (e *apiError) Error() string { return e.Type + ": " + e.Msg }

// series is one element of a matrix result.
type series struct {
	Metric model.Metric `json:"metric"`
	Values []point      `json:"values"`
	// Histograms are only counted: Load refuses native histograms.
	Histograms []json.RawMessage `json:"histograms"`
}

// point is one [<unix seconds>, "<value>"] of a series' values.
type point struct {
	t model.Time
	v float64
}

// UnmarshalJSON reads the pair in place. model.SamplePair's own method
// calls json.Unmarshal again for every point, several times slower on the
// 11,000 points per series of a full chunk. encoding/json has checked that
// b is valid JSON, so anything but a number and a quoted number fails to
// parse below.
func (p *point) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return fmt.Errorf("point %.40s: want [time, \"value\"]", b)
	}
	ts, val, ok := bytes.Cut(b[1:len(b)-1], []byte(","))
	ts, val = bytes.TrimSpace(ts), bytes.TrimSpace(val)
	if !ok || len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' || bytes.IndexByte(val, '\\') >= 0 {
		return fmt.Errorf("point %.40s: want [time, \"value\"]", b)
	}
	// The time converts as client_golang converts it, to milliseconds.
	if err := p.t.UnmarshalJSON(ts); err != nil {
		return fmt.Errorf("point %.40s: time: %w", b, err)
	}
	v, err := strconv.ParseFloat(string(val[1:len(val)-1]), 64)
	if err != nil {
		return fmt.Errorf("point %.40s: value: %w", b, err)
	}
	p.v = v
	return nil
}

// decodeQueryRange reads a query_range response: the result's type and,
// when it is a matrix, its series; an "error" envelope is an *apiError.
func decodeQueryRange(body []byte) (resultType string, matrix []series, err error) {
	var env struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return "", nil, fmt.Errorf("malformed response: %v", err)
	}
	switch {
	case env.Status == "error":
		return "", nil, &apiError{Type: env.ErrorType, Msg: env.Error}
	case env.Status != "success":
		return "", nil, fmt.Errorf("malformed response: status %q, want success or error", env.Status)
	case env.Data.ResultType == "":
		return "", nil, errors.New("malformed response: no resultType")
	case env.Data.ResultType != "matrix":
		return env.Data.ResultType, nil, nil
	}
	if err := json.Unmarshal(env.Data.Result, &matrix); err != nil {
		return "", nil, fmt.Errorf("malformed response: %v", err)
	}
	return env.Data.ResultType, matrix, nil
}

// queryRange evaluates query at start, start+step, ... end on the server at
// base (which may carry a path prefix, e.g. http://host/prom), reading at
// most limit bytes of the response.
//
// Like client_golang, it POSTs the form, so a long query does not hit a
// URL length limit, and retries with GET when the server or a proxy in
// front of it refuses the method (403, 405 or 501).
func queryRange(ctx context.Context, base *url.URL, query string, start, end time.Time, step time.Duration, limit int64) (resultType string, matrix []series, err error) {
	u := base.JoinPath("/api/v1/query_range")
	args := u.Query()
	args.Set("query", query)
	args.Set("start", formatTime(start))
	args.Set("end", formatTime(end))
	args.Set("step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
	form := args.Encode()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form))
	if err != nil {
		return "", nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// A nil Idempotency-Key marks the POST idempotent without sending the
	// header, so the transport may retry it on a dropped keep-alive
	// connection, as it would a GET.
	req.Header["Idempotency-Key"] = nil
	code, body, err := fetch(req, limit)
	if code == http.StatusForbidden || code == http.StatusMethodNotAllowed || code == http.StatusNotImplemented {
		u.RawQuery = form
		if req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil); err != nil {
			return "", nil, err
		}
		code, body, err = fetch(req, limit)
	}
	if err != nil {
		return "", nil, err
	}
	if code/100 != 2 {
		// Prometheus answers a bad query (400, 422) or a timeout (503) with
		// an error envelope; a proxy in front of it answers with anything.
		if _, _, err := decodeQueryRange(body); errors.As(err, new(*apiError)) {
			return "", nil, err
		}
		return "", nil, fmt.Errorf("HTTP %d %s: %q", code, http.StatusText(code), snippet(body))
	}
	return decodeQueryRange(body)
}

// fetch sends req and reads the whole response body, failing once it is
// more than limit bytes; it returns the status code whenever a response
// came, even with an error, so the caller can fall back to GET.
func fetch(req *http.Request, limit int64) (int, []byte, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	tooBig := fmt.Errorf("the response is more than %d bytes; narrow the query or the range", limit)
	if resp.ContentLength > limit {
		return resp.StatusCode, nil, tooBig
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("reading the response: %w", err)
	}
	if int64(len(body)) > limit {
		return resp.StatusCode, nil, tooBig
	}
	return resp.StatusCode, body, nil
}

// snippet is the start of a body for an error message.
func snippet(body []byte) string {
	const n = 200
	s := strings.TrimSpace(string(body))
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// formatTime writes t as unix seconds with a fraction, as client_golang
// does.
func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.Unix())+float64(t.Nanosecond())/1e9, 'f', -1, 64)
}
