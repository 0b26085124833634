package source_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/novacron/perfpredict/source"
)

// A server answering query_range with two series of one metric (a stand-in
// for Prometheus, which the package's tests run for real): Load names each
// by its labels, in order, on one grid.
func ExamplePrometheus_Load() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[
			{"metric":{"__name__":"cpu","instance":"b"},"values":[[1700000000,"3"],[1700000300,"4"]]},
			{"metric":{"__name__":"cpu","instance":"a"},"values":[[1700000000,"1"],[1700000300,"2"]]}]}}`)
	}))
	defer srv.Close()
	p := source.Prometheus{URL: srv.URL, Query: "cpu", Start: time.Unix(1700000000, 0), End: time.Unix(1700000300, 0), Step: 5 * time.Minute}
	series, err := p.Load(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range series {
		fmt.Println(s.Name, s.Values, s.Times[0].Format(time.RFC3339))
	}
	// Output:
	// cpu{instance="a"} [1 2] 2023-11-14T22:13:20Z
	// cpu{instance="b"} [3 4] 2023-11-14T22:13:20Z
}
