package monitor

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MetricKind says how a metric's thresholds are written.
type MetricKind int

const (
	// Ratio: a share in [0, 1]; "0.90" or "90%".
	Ratio MetricKind = iota
	// Percent: already in percent (MAPE); "5" or "5%".
	Percent
	// Duration: seconds internally; the threshold needs a unit (ns, us, µs, ms, s).
	Duration
	// Plain: a number without unit (rates, divergences).
	Plain
)

// knownMetrics are the names a rule's condition may use, with their kinds.
// Values come from Snapshot (see MetricValues).
var knownMetrics = map[string]MetricKind{
	"accuracy":                        Ratio, // accuracy5 over the health window
	"accuracy5":                       Ratio,
	"mape":                            Percent,
	"mae":                             Plain,
	"inference_time":                  Duration, // p99 latency over the window
	"inference_time_p50":              Duration,
	"inference_time_p99":              Duration,
	"inference_time_mean":             Duration,
	"predictions_per_second":          Plain,
	"fallback_rate":                   Ratio,
	"feature_distribution_divergence": Plain, // max JS divergence (bits) over features
	"js_divergence":                   Plain, // mean JS over features
	"psi":                             Plain, // max PSI over features
	"psi_mean":                        Plain,
}

var knownActions = []string{"retrain_model", "optimize_model", "retrain_with_recent_data", "notify", "none"}

var knownSeverities = []string{"info", "low", "medium", "high", "critical"}

// The lists below are returned as copies: the parser reads the package's own,
// so a caller changing what it got cannot change which rules parse.

// KnownMetrics returns the names a rule's condition may use, with their
// kinds. Values come from Snapshot (see MetricValues).
func KnownMetrics() map[string]MetricKind { return maps.Clone(knownMetrics) }

// KnownActions returns the actions a rule may ask for; the pipeline handles
// the first three, "notify" and "none" only reach callbacks.
func KnownActions() []string { return slices.Clone(knownActions) }

// KnownSeverities returns the accepted severities.
func KnownSeverities() []string { return slices.Clone(knownSeverities) }

// Op is a comparison operator.
type Op string

const (
	Less         Op = "<"
	LessEqual    Op = "<="
	Greater      Op = ">"
	GreaterEqual Op = ">="
	Equal        Op = "=="
	NotEqual     Op = "!="
)

func (o Op) holds(v, t float64) bool {
	switch o {
	case Less:
		return v < t
	case LessEqual:
		return v <= t
	case Greater:
		return v > t
	case GreaterEqual:
		return v >= t
	case Equal:
		return v == t
	case NotEqual:
		return v != t
	}
	return false
}

// Rule is one parsed alert rule.
type Rule struct {
	Name      string `json:"name"`
	Condition string `json:"condition"` // as written
	Severity  string `json:"severity"`
	Action    string `json:"action,omitempty"`
	// The condition, parsed: Metric Op Threshold (in the metric's internal
	// unit: seconds for durations, a share for ratios).
	Metric    string        `json:"metric"`
	Op        Op            `json:"op"`
	Threshold float64       `json:"threshold"`
	For       time.Duration `json:"for,omitempty"`
	Line      int           `json:"line"`
}

// Holds reports whether the condition is true for value v.
func (r *Rule) Holds(v float64) bool { return !math.IsNaN(v) && r.Op.holds(v, r.Threshold) }

// RuleError is one problem in a rule file, at a line and column.
type RuleError struct {
	File         string
	Line, Column int
	Field        string
	Msg          string
}

func (e *RuleError) Error() string {
	f := e.File
	if f == "" {
		f = "<rules>"
	}
	if e.Field != "" {
		return fmt.Sprintf("%s:%d:%d: %s: %s", f, e.Line, e.Column, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", f, e.Line, e.Column, e.Msg)
}

// LoadRules reads a rule file (see ParseRules).
func LoadRules(path string) ([]Rule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	return ParseRules(b, path)
}

// DefaultRules are the alert rules the DWCP v3 design gives for a served
// model: retrain when fewer than 90% of forecasts fall within 5% of the
// actual, optimise the model when the p99 inference time passes 20 ms, and
// retrain on recent data when the largest per-feature Jensen-Shannon
// divergence from the training data passes 0.15 bits. They are the default
// rules of `perfpredict monitor` and of the lifecycle simulations.
const DefaultRules = `alerts:
  - name: ModelAccuracyDrop
    condition: accuracy < 0.90
    severity: high
    action: retrain_model

  - name: PredictionLatencyHigh
    condition: inference_time > 20ms
    severity: medium
    action: optimize_model

  - name: ModelDrift
    condition: feature_distribution_divergence > 0.15
    severity: high
    action: retrain_with_recent_data
`

var condRE = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*([<>=!~]+)\s*([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)\s*([A-Za-zµ%/]*)\s*$`)

// ParseRules reads rules in this YAML format:
//
//	alerts:
//	  - name: ModelAccuracyDrop
//	    condition: accuracy < 0.90
//	    severity: high
//	    action: retrain_model
//	    for: 10m            # optional: must hold this long before firing
//
// Every problem is reported (all of them, joined) as a *RuleError with its
// line: unknown keys, metrics, units, operators, actions or severities,
// duplicate names, missing fields.
func ParseRules(data []byte, file string) ([]Rule, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		line := 0
		var te *yaml.TypeError
		msg := err.Error()
		if !errors.As(err, &te) {
			if m := regexp.MustCompile(`line (\d+)`).FindStringSubmatch(msg); m != nil {
				line, _ = strconv.Atoi(m[1])
			}
		}
		return nil, &RuleError{File: file, Line: line, Msg: strings.TrimPrefix(msg, "yaml: ")}
	}
	var errs []error
	bad := func(n *yaml.Node, field, format string, a ...any) {
		errs = append(errs, &RuleError{File: file, Line: n.Line, Column: n.Column, Field: field, Msg: fmt.Sprintf(format, a...)})
	}
	if len(root.Content) == 0 {
		return nil, &RuleError{File: file, Line: 1, Msg: "empty rule file: want a mapping with an 'alerts' list"}
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, &RuleError{File: file, Line: doc.Line, Column: doc.Column, Msg: "want a mapping with an 'alerts' list"}
	}
	var list *yaml.Node
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		if k.Value == "alerts" {
			list = v
		} else {
			bad(k, k.Value, "unknown top-level key (want 'alerts')")
		}
	}
	if list == nil {
		bad(doc, "alerts", "missing")
		return nil, errors.Join(errs...)
	}
	if list.Kind != yaml.SequenceNode {
		bad(list, "alerts", "want a list of rules")
		return nil, errors.Join(errs...)
	}
	var rules []Rule
	seen := map[string]int{}
	for _, item := range list.Content {
		if item.Kind != yaml.MappingNode {
			bad(item, "alerts", "each rule must be a mapping (name, condition, severity, action)")
			continue
		}
		r := Rule{Line: item.Line}
		ok := true
		got := map[string]*yaml.Node{}
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			if _, dup := got[k.Value]; dup {
				bad(k, k.Value, "given twice")
				ok = false
			}
			got[k.Value] = v
			if v.Kind != yaml.ScalarNode {
				bad(v, k.Value, "want a single value")
				ok = false
				continue
			}
			switch k.Value {
			case "name":
				r.Name = v.Value
			case "condition":
				r.Condition = v.Value
			case "severity":
				r.Severity = v.Value
			case "action":
				r.Action = v.Value
			case "for":
				d, err := time.ParseDuration(v.Value)
				if err != nil || d < 0 {
					bad(v, "for", "%q is not a duration like 30s, 10m, 1h", v.Value)
					ok = false
				}
				r.For = d
			default:
				bad(k, k.Value, "unknown key (want name, condition, severity, action, for)")
				ok = false
			}
		}
		for _, req := range []string{"name", "condition", "severity"} {
			if n := got[req]; n == nil || n.Value == "" {
				bad(item, req, "missing")
				ok = false
			}
		}
		if n := got["name"]; n != nil && n.Value != "" {
			if first, dup := seen[n.Value]; dup {
				bad(n, "name", "%q already used by the rule on line %d", n.Value, first)
				ok = false
			} else {
				seen[n.Value] = n.Line
			}
		}
		if n := got["severity"]; n != nil && n.Value != "" && !contains(knownSeverities, n.Value) {
			bad(n, "severity", "unknown severity %q (want one of %s)", n.Value, strings.Join(knownSeverities, ", "))
			ok = false
		}
		if n := got["action"]; n != nil && !contains(knownActions, n.Value) {
			bad(n, "action", "unknown action %q (want one of %s)", n.Value, strings.Join(knownActions, ", "))
			ok = false
		}
		if n := got["condition"]; n != nil && n.Value != "" {
			if err := parseCondition(&r, n.Value); err != nil {
				bad(n, "condition", "%v", err)
				ok = false
			}
		}
		if ok {
			rules = append(rules, r)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rules, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var durationUnits = map[string]float64{"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1}

func parseCondition(r *Rule, cond string) error {
	m := condRE.FindStringSubmatch(cond)
	if m == nil {
		return fmt.Errorf("%q is not 'metric operator number[unit]' (e.g. accuracy < 0.90, inference_time > 20ms)", cond)
	}
	name, op, num, unit := m[1], m[2], m[3], m[4]
	kind, known := knownMetrics[name]
	if !known {
		names := make([]string, 0, len(knownMetrics))
		for n := range knownMetrics {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("unknown metric %q (known: %s)", name, strings.Join(names, ", "))
	}
	switch Op(op) {
	case Less, LessEqual, Greater, GreaterEqual, Equal, NotEqual:
	default:
		return fmt.Errorf("bad operator %q (want <, <=, >, >=, == or !=)", op)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return fmt.Errorf("bad number %q", num)
	}
	switch kind {
	case Duration:
		f, ok := durationUnits[unit]
		if !ok {
			if unit == "" {
				return fmt.Errorf("%s needs a time unit (ns, us, ms, s), e.g. %s 20ms", name, op)
			}
			return fmt.Errorf("bad unit %q for %s (want ns, us, µs, ms or s)", unit, name)
		}
		v *= f
	case Ratio:
		switch unit {
		case "":
		case "%":
			v /= 100
		default:
			return fmt.Errorf("bad unit %q for %s (a share: write 0.90 or 90%%)", unit, name)
		}
		if v < 0 || v > 1 {
			return fmt.Errorf("%s is a share in [0, 1]; %s is outside", name, num+unit)
		}
	case Percent:
		if unit != "" && unit != "%" {
			return fmt.Errorf("bad unit %q for %s (in percent: write 5 or 5%%)", unit, name)
		}
	case Plain:
		if unit != "" && !(name == "predictions_per_second" && unit == "/s") {
			return fmt.Errorf("bad unit %q for %s (takes a plain number)", unit, name)
		}
	}
	r.Metric, r.Op, r.Threshold = name, Op(op), v
	return nil
}
