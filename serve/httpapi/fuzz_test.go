package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/novacron/perfpredict/serve"
)

// FuzzRequests sends arbitrary bodies to the two POST routes: whatever the
// bytes, the handler answers (no panic), with a status the API documents,
// and with a JSON body: an answer on 200, {"error": ...} otherwise.
func FuzzRequests(f *testing.F) {
	values := make([]string, 70)
	for i := range values {
		values[i] = "1." + strings.Repeat("5", i%4+1)
	}
	vs := "[" + strings.Join(values, ",") + "]"
	for _, s := range []string{
		`{"values": ` + vs + `}`,
		`{"values": ` + vs + `, "metric": "cpu"}`,
		`{"values": [1, 2, "NaN"]}`,
		`{"values": [1e309]}`,
		`{"series": "cpu"}`,
		`{"values": ` + vs + `} trailing`,
		`{"name": "x", "metrics": [{"name": "m", "values": ` + vs + `}], "horizon": 3}`,
		`{"metrics": [{"name": "m", "values": [1]}], "times": ["2026-01-01T00:00:00Z"]}`,
		`{"metrics": [{"name": "m", "values": ` + vs + `}], "slo": [{"metric": "m", "above": 2}], "recalibrate": true}`,
		`[]`, `null`, `{`, ``, `{"values": null}`, `{"horizon": -1}`,
	} {
		f.Add("/v1/forecast", s)
		f.Add("/v1/degradation", s)
	}
	h, err := New(Options{MaxBody: 1 << 16, Predictor: serve.Options{Timeout: 10 * time.Second}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(h.Close)
	if err := h.Load(tinyForecaster(f, 1), ""); err != nil {
		f.Fatal(err)
	}
	documented := map[int]bool{
		http.StatusOK: true, http.StatusBadRequest: true, http.StatusNotFound: true,
		http.StatusRequestEntityTooLarge: true, http.StatusUnprocessableEntity: true,
		http.StatusServiceUnavailable: true,
	}
	f.Fuzz(func(t *testing.T, path, body string) {
		if path != "/v1/forecast" {
			path = "/v1/degradation"
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !documented[rec.Code] {
			t.Fatalf("POST %s %q: status %d", path, body, rec.Code)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("POST %s %q: status %d, body not a JSON object: %v: %q", path, body, rec.Code, err, rec.Body.String())
		}
		if rec.Code != http.StatusOK {
			if msg, ok := out["error"].(string); !ok || msg == "" {
				t.Fatalf("POST %s %q: status %d without an error message: %q", path, body, rec.Code, rec.Body.String())
			}
		}
	})
}
