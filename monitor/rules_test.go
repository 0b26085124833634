package monitor

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// defaultRules are the DWCP v3 design's alert rules, typed out here on
// purpose as the one copy besides DefaultRules: these tests parse the text
// independently of the exported constant, and TestDefaultRulesConstant
// checks that the constant is that text.
const defaultRules = `alerts:
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

func TestDefaultRulesConstant(t *testing.T) {
	if DefaultRules != defaultRules {
		t.Fatalf("DefaultRules differs from the design's rules:\n%s", DefaultRules)
	}
}

func TestDefaultRulesVerbatim(t *testing.T) {
	rules, err := ParseRules([]byte(defaultRules), "default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []Rule{
		{Name: "ModelAccuracyDrop", Metric: "accuracy", Op: Less, Threshold: 0.90, Severity: "high", Action: "retrain_model", Line: 2},
		{Name: "PredictionLatencyHigh", Metric: "inference_time", Op: Greater, Threshold: 0.020, Severity: "medium", Action: "optimize_model", Line: 7},
		{Name: "ModelDrift", Metric: "feature_distribution_divergence", Op: Greater, Threshold: 0.15, Severity: "high", Action: "retrain_with_recent_data", Line: 12},
	}
	if len(rules) != len(want) {
		t.Fatalf("%d rules", len(rules))
	}
	for i, w := range want {
		g := rules[i]
		if g.Name != w.Name || g.Metric != w.Metric || g.Op != w.Op || g.Threshold != w.Threshold ||
			g.Severity != w.Severity || g.Action != w.Action || g.Line != w.Line || g.For != 0 {
			t.Errorf("rule %d: got %+v, want %+v", i, g, w)
		}
	}
}

func TestRulesValidForms(t *testing.T) {
	src := `alerts:
  - {name: a, condition: "accuracy<90%", severity: low}
  - {name: b, condition: inference_time >= 1.5s, severity: critical, for: 10m}
  - {name: c, condition: inference_time_p50 > 800us, severity: info, action: notify}
  - {name: d, condition: mape >= 5%, severity: medium}
  - {name: e, condition: predictions_per_second < 1000/s, severity: medium}
  - {name: f, condition: fallback_rate != 0, severity: low}
  - {name: g, condition: psi > 2.5e-1, severity: high, action: retrain_with_recent_data}
`
	rules, err := ParseRules([]byte(src), "ok.yaml")
	if err != nil {
		t.Fatal(err)
	}
	th := []float64{0.9, 1.5, 800e-6, 5, 1000, 0, 0.25}
	ops := []Op{Less, GreaterEqual, Greater, GreaterEqual, Less, NotEqual, Greater}
	for i, r := range rules {
		if r.Op != ops[i] || abs(r.Threshold-th[i]) > 1e-15 {
			t.Errorf("rule %s: %s %v", r.Name, r.Op, r.Threshold)
		}
	}
	if rules[1].For != 10*time.Minute {
		t.Errorf("for: %v", rules[1].For)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestRulesInvalidReportLines(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string // substrings, each with its line
	}{
		{"unknown metric", "alerts:\n  - name: x\n    condition: accuracyy < 0.9\n    severity: high\n",
			[]string{`f.yaml:3:16: condition: unknown metric "accuracyy"`}},
		{"bad unit", "alerts:\n  - name: x\n    condition: inference_time > 20mss\n    severity: high\n",
			[]string{`f.yaml:3:16: condition: bad unit "mss"`}},
		{"missing unit", "alerts:\n  - name: x\n    condition: inference_time > 20\n    severity: high\n",
			[]string{`:3:16: condition: inference_time needs a time unit`}},
		{"unit on a ratio", "alerts:\n  - name: x\n    condition: accuracy < 0.9ms\n    severity: high\n",
			[]string{`:3:16: condition: bad unit "ms" for accuracy`}},
		{"bad operator", "alerts:\n  - name: x\n    condition: accuracy => 0.9\n    severity: high\n",
			[]string{`:3:16: condition: bad operator "=>"`}},
		{"single equals", "alerts:\n  - name: x\n    condition: accuracy = 0.9\n    severity: high\n",
			[]string{`bad operator "="`}},
		{"ratio out of range", "alerts:\n  - name: x\n    condition: accuracy < 90\n    severity: high\n",
			[]string{`:3:16: condition: accuracy is a share in [0, 1]`}},
		{"several at once", "alerts:\n  - name: x\n    condition: accuracy < 0.9\n    severity: urgent\n    action: reboot\n    colour: red\n  - name: x\n    condition: mape >\n    severity: high\n    for: soon\n",
			[]string{`:4:15: severity: unknown severity "urgent"`, `:5:13: action: unknown action "reboot"`, `:6:5: colour: unknown key`,
				`:7:11: name: "x" already used by the rule on line 2`, `:8:16: condition: "mape >" is not`, `:10:10: for: "soon" is not a duration`}},
		{"missing fields", "alerts:\n  - name: x\n", []string{`:2:5: condition: missing`, `:2:5: severity: missing`}},
		{"not a list", "alerts: yes\n", []string{`:1:9: alerts: want a list`}},
		{"top-level typo", "alert:\n  - name: x\n", []string{`:1:1: alert: unknown top-level key`, `alerts: missing`}},
		{"yaml syntax", "alerts:\n  - name: x\n    condition: [a\n", []string{`f.yaml:`}},
		{"empty", "", []string{`f.yaml:1:0: empty rule file`}},
	}
	for _, c := range cases {
		_, err := ParseRules([]byte(c.src), "f.yaml")
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		var re *RuleError
		if !errors.As(err, &re) {
			t.Errorf("%s: error %T is not a RuleError", c.name, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error\n%v\nlacks %q", c.name, err, w)
			}
		}
	}
}

func FuzzParseRules(f *testing.F) {
	f.Add([]byte(defaultRules))
	f.Add([]byte("alerts:\n  - {name: a, condition: \"mape>5%\", severity: low, for: 1m}\n"))
	f.Add([]byte("alerts:\n  - name: x\n    condition: accuracy => 0.9\n"))
	f.Add([]byte("alerts: [1, [2], {a: b}]"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseRules(data, "fuzz.yaml")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml:") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		for _, r := range rules {
			if _, ok := knownMetrics[r.Metric]; !ok || r.Name == "" {
				t.Fatalf("accepted bad rule %+v", r)
			}
		}
	})
}

func TestEngineForAndRepeat(t *testing.T) {
	rules, err := ParseRules([]byte(`alerts:
  - {name: Acc, condition: accuracy < 0.9, severity: high, action: retrain_model, for: 10m}
  - {name: Lat, condition: inference_time > 20ms, severity: medium, action: optimize_model}
`), "r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(rules)
	e.Repeat = time.Hour
	var fired, resolved []string
	var retrains, optimizes int
	e.OnAlert(func(a Alert) {
		if a.State == Firing {
			fired = append(fired, a.Rule.Name+"@"+a.At.Format("15:04"))
		} else {
			resolved = append(resolved, a.Rule.Name+"@"+a.At.Format("15:04"))
		}
	})
	e.OnAction("retrain_model", func(Alert) { retrains++ })
	e.OnAction("optimize_model", func(Alert) { optimizes++ })
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	acc := []float64{0.95, 0.85, 0.95, 0.85, 0.85, 0.85, 0.85} // 5-minute steps: a blip, then a lasting drop
	for i, a := range acc {
		e.Evaluate(t0.Add(time.Duration(i)*5*time.Minute), map[string]float64{"accuracy": a, "inference_time": 0.005})
	}
	// The blip at 00:05 never lasted 10 minutes; the drop from 00:15 fires at 00:25.
	if strings.Join(fired, ",") != "Acc@00:25" || retrains != 1 {
		t.Fatalf("fired %v retrains %d", fired, retrains)
	}
	// Still firing an hour after the first dispatch: the action repeats once.
	e.Evaluate(t0.Add(85*time.Minute), map[string]float64{"accuracy": 0.8})
	if retrains != 2 {
		t.Fatalf("retrains %d after repeat", retrains)
	}
	// A missing (NaN) value keeps the state; a good one resolves.
	e.Evaluate(t0.Add(90*time.Minute), map[string]float64{"accuracy": nan()})
	if len(e.Firing()) != 1 {
		t.Fatal("NaN resolved the alert")
	}
	e.Evaluate(t0.Add(95*time.Minute), map[string]float64{"accuracy": 0.97, "inference_time": 0.025})
	if strings.Join(resolved, ",") != "Acc@01:35" || optimizes != 1 || len(e.Firing()) != 1 {
		t.Fatalf("resolved %v optimizes %d firing %v", resolved, optimizes, e.Firing())
	}
}

// The exported lists are copies: a caller editing them (as one would to build
// a menu or a validator) must not change which rules parse or what a new
// Health defaults to, for itself or anyone else in the process.
func TestExportedListsAreCopies(t *testing.T) {
	a := KnownActions()
	a[0] = "reboot"
	_ = append(a[:1], "x")
	s := KnownSeverities()
	s[2] = "x"
	m := KnownMetrics()
	delete(m, "mape")
	m["bogus"] = Plain
	d := DefaultHealthConfig()
	d.Days = 1
	if _, err := ParseRules([]byte("alerts:\n  - {name: A, condition: mape > 5, severity: medium, action: retrain_model}\n"), "r.yaml"); err != nil {
		t.Errorf("a caller's edit changed the parser: %v", err)
	}
	if _, err := ParseRules([]byte("alerts:\n  - {name: A, condition: bogus > 5}\n"), "r.yaml"); err == nil {
		t.Error("a metric added to the returned map was accepted")
	}
	if KnownActions()[0] != "retrain_model" || KnownSeverities()[2] != "medium" || len(KnownMetrics()) != len(knownMetrics) {
		t.Errorf("accessors return the edited values: %v %v %d", KnownActions(), KnownSeverities(), len(KnownMetrics()))
	}
	if h := NewHealth(HealthConfig{}); h.cfg.Days != 90 || DefaultHealthConfig().Days != 90 {
		t.Errorf("health defaults changed: %d days", h.cfg.Days)
	}
}
