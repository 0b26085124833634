package optimize

import (
	"strings"
	"testing"
)

func TestDefaultCatalog(t *testing.T) {
	c := DefaultCatalog()
	if len(c.Types) != 15 || len(c.Zones()) != 7 || c.Source == "" {
		t.Fatalf("%d types, zones %v", len(c.Types), c.Zones())
	}
	for _, ty := range c.Types {
		if ty.PricePerHr["us-east-1a"] <= 0 {
			t.Errorf("%s has no us-east-1a price", ty.Name)
		}
	}
}

func TestParseCatalogErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{``, "empty"},
		{`{"instance_types": []}`, "empty"},
		{`{"instance_types": [{"name": "a", "vcpu": 0, "price_per_hour": {"z": 1}}]}`, "instance_types[0].vcpu"},
		{`{"instance_types": [{"name": "a", "vcpu": 2, "memory_gib": -1, "price_per_hour": {"z": 1}}]}`, "instance_types[0].memory_gib"},
		{`{"instance_types": [{"name": "a", "vcpu": 2, "price_per_hour": {}}]}`, "instance_types[0].price_per_hour"},
		{`{"instance_types": [{"name": "a", "vcpu": 2, "price_per_hour": {"z": -0.1}}]}`, `price_per_hour["z"]`},
		{`{"instance_types": [{"name": "a", "vcpu": 2, "price_per_hour": {"z": 1}}, {"name": "a", "vcpu": 2, "price_per_hour": {"z": 1}}]}`, "instance_types[1].name"},
		{`{"instance_types": [{"vcpu": 2, "price_per_hour": {"z": 1}}]}`, "instance_types[0].name"},
		{"{\n\"instance_types\": [{\"name\": \"a\", \"vcpu\": \"two\"}]}", "line 2"},
		{"{\n\"instance_types\": [{\"name\": \"a\", \"vcpu\": \"two\"}]}", "vcpu"},
		{"{\n\n\"instance_types\": [,]}", "line 3"},
		{`{"instance_types": [{"name": "a", "vcpus": 2}]}`, "vcpus"},
		{`{"instance_types": [{"name": "a", "vcpu": 2, "price_per_hour": {"z": 1}}]} {}`, "after"},
	} {
		_, err := ParseCatalog([]byte(tc.json), "cat.json")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "cat.json: ") {
			t.Errorf("%q: error %v, want it to name %q", tc.json, err, tc.want)
		}
	}
}

func FuzzParseCatalog(f *testing.F) {
	f.Add([]byte(defaultCatalogJSON))
	f.Add([]byte(`{"instance_types": [{"name": "a", "vcpu": 2, "memory_gib": 4, "network_gbps": 1, "price_per_hour": {"z": 0.1}}]}`))
	f.Add([]byte(`{"hours_per_month": -5, "instance_types": [{"name": "a", "vcpu": 2, "price_per_hour": {"z": 1e308}}]}`))
	f.Add([]byte(`{"instance_types": [{"name": "", "vcpu": -1}]}`))
	f.Add([]byte(`[1,2`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCatalog(data, "fuzz.json")
		if err != nil {
			return
		}
		// Anything accepted must be usable by the optimiser without panicking.
		if len(c.Types) == 0 {
			t.Fatal("accepted an empty catalogue")
		}
		z := c.Zones()
		o := &Optimizer{Catalog: c, Capacity: DefaultCapacity(), NodeLimit: 2000}
		_, _ = o.Optimize(t.Context(), []float64{100, 300}, Constraints{Zone: z[0], MinPerformance: 0.5, MaxInstances: 4})
	})
}
