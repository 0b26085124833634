package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/internal/synth"
	"github.com/novacron/perfpredict/serve"
	"github.com/novacron/perfpredict/serve/httpapi"
)

// A Handler mounted on a server: it answers forecasts once a model is
// loaded, and tells a client how many values a forecast needs.
func ExampleHandler() {
	o := forecast.DefaultOptions()
	o.Window, o.ScaleWindow, o.Horizon = 8, 16, 12
	o.Hidden, o.Head, o.Epochs, o.Ensemble, o.SwitchTrees = 4, []int{8}, 1, 1, nil
	fc, err := forecast.Train(context.Background(), []baseline.Series{{Name: "cpu", Values: synth.Walk(600, 1)}}, o)
	if err != nil {
		fmt.Println(err)
		return
	}
	h, _ := httpapi.New(httpapi.Options{})
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, _ := http.Get(srv.URL + "/readyz")
	fmt.Println("before Load: /readyz", resp.StatusCode)
	resp.Body.Close()
	h.Load(fc, "v1.0.0")

	body, _ := json.Marshal(map[string]any{"values": synth.Walk(50, 2)})
	resp, _ = http.Post(srv.URL+"/v1/forecast", "application/json", strings.NewReader(string(body)))
	var ans serve.ForecastAnswer
	json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, ans.Version, ans.Source, "steps:", len(ans.Predictions[0]), "reads the last", ans.Needs)

	resp, _ = http.Post(srv.URL+"/v1/forecast", "application/json", strings.NewReader(`{"values": [1, 2, 3]}`))
	var e struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, e.Error)
	// Output:
	// before Load: /readyz 503
	// 200 v1.0.0 model steps: 12 reads the last 17
	// 422 value: 3 values; the forecaster needs the last 17
}
