package monitor

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
)

// JSON has no NaN or Inf, and the monitor uses NaN for "no data yet"; these
// types marshal such figures as null.

func (s HealthSnapshot) MarshalJSON() ([]byte, error) { return json.Marshal(finiteFields(s)) }
func (f FeatureDrift) MarshalJSON() ([]byte, error)   { return json.Marshal(finiteFields(f)) }
func (r DriftReport) MarshalJSON() ([]byte, error)    { return json.Marshal(finiteFields(r)) }
func (a Alert) MarshalJSON() ([]byte, error)          { return json.Marshal(finiteFields(a)) }

// finiteFields turns a struct into a map keyed by its JSON names, with
// non-finite float64 fields as nil. Other fields keep their own marshalling.
func finiteFields(v any) map[string]any {
	rv := reflect.ValueOf(v)
	rt := rv.Type()
	out := make(map[string]any, rt.NumField())
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fv := rv.Field(i)
		if strings.Contains(opts, "omitempty") && fv.IsZero() {
			continue
		}
		if fv.Kind() == reflect.Float64 {
			if x := fv.Float(); math.IsNaN(x) || math.IsInf(x, 0) {
				out[name] = nil
				continue
			}
		}
		out[name] = fv.Interface()
	}
	return out
}
