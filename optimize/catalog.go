package optimize

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
)

// DefaultHoursPerMonth converts hourly prices to monthly ones (AWS bills a
// month as 730 hours).
const DefaultHoursPerMonth = 730

//go:embed catalog_default.json
var defaultCatalogJSON []byte

// InstanceType is one machine size that can be bought.
type InstanceType struct {
	Name        string             `json:"name"`
	Family      string             `json:"family,omitempty"`
	VCPU        int                `json:"vcpu"`
	MemoryGiB   float64            `json:"memory_gib"`
	NetworkGbps float64            `json:"network_gbps"`
	PricePerHr  map[string]float64 `json:"price_per_hour"` // availability zone -> USD per hour
}

// Catalog is the set of instance types the optimiser may allocate.
type Catalog struct {
	Source        string         `json:"source,omitempty"`
	HoursPerMonth float64        `json:"hours_per_month,omitempty"`
	Types         []InstanceType `json:"instance_types"`
}

// DefaultCatalog returns the embedded catalogue: AWS c6i, m6i and r6i sizes
// large..8xlarge in us-east-1 (a, b, c), us-west-2 (a, b) and eu-west-1 (a, b).
// Prices are illustrative on-demand Linux list prices of 2024 (see the
// catalogue's "source" field); AWS prices per region, so all zones of a region
// carry the same price.
func DefaultCatalog() *Catalog {
	c, err := ParseCatalog(defaultCatalogJSON, "catalog_default.json")
	if err != nil {
		panic("optimize: embedded catalogue is invalid: " + err.Error())
	}
	return c
}

// LoadCatalog reads a catalogue from a JSON file.
func LoadCatalog(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("optimize: catalogue: %w", err)
	}
	return ParseCatalog(data, path)
}

// ParseCatalog decodes and validates a JSON catalogue; name (a file name)
// prefixes every error, which names the line or field at fault.
func ParseCatalog(data []byte, name string) (*Catalog, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %s", name, describeJSONError(data, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: unexpected data after the catalogue object", name)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &c, nil
}

// describeJSONError turns decoder errors into messages with a line number or
// the field path.
func describeJSONError(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Sprintf("line %d: %v", line, se)
	case errors.As(err, &te):
		line := 1 + bytes.Count(data[:min(int(te.Offset), len(data))], []byte("\n"))
		return fmt.Sprintf("line %d: field %s: cannot use a JSON %s as %s", line, te.Field, te.Value, te.Type)
	case errors.Is(err, io.EOF):
		return "empty catalogue"
	}
	return err.Error()
}

// Validate checks every type: a name, positive vCPU, non-negative finite
// memory and network, at least one zone, and finite non-negative prices.
// Errors name the field, e.g. "instance_types[2].vcpu".
func (c *Catalog) Validate() error {
	if c == nil || len(c.Types) == 0 {
		return errors.New("instance_types: the catalogue is empty")
	}
	if c.HoursPerMonth < 0 || math.IsNaN(c.HoursPerMonth) || math.IsInf(c.HoursPerMonth, 0) {
		return fmt.Errorf("hours_per_month: must be a positive number, got %v", c.HoursPerMonth)
	}
	seen := map[string]bool{}
	for i, t := range c.Types {
		f := func(field string) string { return fmt.Sprintf("instance_types[%d].%s", i, field) }
		if strings.TrimSpace(t.Name) == "" {
			return fmt.Errorf("%s: missing", f("name"))
		}
		if seen[t.Name] {
			return fmt.Errorf("%s: duplicate type %q", f("name"), t.Name)
		}
		seen[t.Name] = true
		if t.VCPU <= 0 {
			return fmt.Errorf("%s: must be positive, got %d (%s)", f("vcpu"), t.VCPU, t.Name)
		}
		if !finiteNonNeg(t.MemoryGiB) {
			return fmt.Errorf("%s: must be a finite non-negative number, got %v (%s)", f("memory_gib"), t.MemoryGiB, t.Name)
		}
		if !finiteNonNeg(t.NetworkGbps) {
			return fmt.Errorf("%s: must be a finite non-negative number, got %v (%s)", f("network_gbps"), t.NetworkGbps, t.Name)
		}
		if len(t.PricePerHr) == 0 {
			return fmt.Errorf("%s: no zone has a price (%s)", f("price_per_hour"), t.Name)
		}
		for z, p := range t.PricePerHr {
			if strings.TrimSpace(z) == "" {
				return fmt.Errorf("%s: empty zone name (%s)", f("price_per_hour"), t.Name)
			}
			if !finiteNonNeg(p) {
				return fmt.Errorf("%s[%q]: must be a finite non-negative number, got %v (%s)", f("price_per_hour"), z, p, t.Name)
			}
		}
	}
	return nil
}

// Zones lists every zone with at least one price, sorted.
func (c *Catalog) Zones() []string {
	set := map[string]bool{}
	for _, t := range c.Types {
		for z := range t.PricePerHr {
			set[z] = true
		}
	}
	out := make([]string, 0, len(set))
	for z := range set {
		out = append(out, z)
	}
	sort.Strings(out)
	return out
}

// hoursPerMonth is the catalogue's month length, DefaultHoursPerMonth if unset.
func (c *Catalog) hoursPerMonth() float64 {
	if c.HoursPerMonth > 0 {
		return c.HoursPerMonth
	}
	return DefaultHoursPerMonth
}

func finiteNonNeg(v float64) bool { return v >= 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }
