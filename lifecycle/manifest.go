package lifecycle

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/novacron/perfpredict/forecast"
)

// Status is a version's place in its life: Candidate (trained, not serving),
// Active (serving; at most one per model name) or Deprecated (served before or
// retired; kept for roll back until garbage-collected).
type Status string

const (
	Candidate  Status = "Candidate"
	Active     Status = "Active"
	Deprecated Status = "Deprecated"
)

// Version is a semantic version "vMAJOR.MINOR.PATCH".
type Version struct{ Major, Minor, Patch int }

var versionRE = regexp.MustCompile(`^v?(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})$`)

// ParseVersion reads "v1.2.3" or "1.2.3".
func ParseVersion(s string) (Version, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("lifecycle: version %q is not MAJOR.MINOR.PATCH (e.g. v1.2.0)", s)
	}
	var v Version
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	v.Patch, _ = strconv.Atoi(m[3])
	return v, nil
}

func (v Version) String() string { return fmt.Sprintf("v%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Less orders versions by precedence.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

// NextMinor is the version a retrained model gets by default.
func (v Version) NextMinor() Version { return Version{v.Major, v.Minor + 1, 0} }

func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

func (v *Version) UnmarshalText(b []byte) error {
	w, err := ParseVersion(string(b))
	if err != nil {
		return err
	}
	*v = w
	return nil
}

// Metrics are accuracy figures on one data split, computed as PROTOCOL.md
// says (MAPE in percent, Accuracy5 the share of |e| <= 5% |y|).
type Metrics struct {
	N         int     `json:"n"`
	MAE       float64 `json:"mae"`
	RMSE      float64 `json:"rmse"`
	MAPE      float64 `json:"mape"`
	Accuracy5 float64 `json:"accuracy5"`
	// Missing counts forecasts that were not finite (misses for
	// Accuracy5, left out of the error averages).
	Missing int `json:"missing,omitempty"`
}

// finite replaces non-finite figures (JSON has no form for them) by -1
// and reports whether all were finite.
func (m *Metrics) finite() bool {
	ok := true
	for _, p := range []*float64{&m.MAE, &m.RMSE, &m.MAPE, &m.Accuracy5} {
		if math.IsNaN(*p) || math.IsInf(*p, 0) {
			*p = -1
			ok = false
		}
	}
	return ok
}

// TimeRange is the span of data a version was trained on.
type TimeRange struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Manifest describes one version. It is written once, with the artifact,
// and never changed: lifecycle state (status, notes) lives in the index.
type Manifest struct {
	Model   string    `json:"model"`
	Version Version   `json:"version"`
	Created time.Time `json:"created"`
	// Parent is the version that was Active when this one was trained (empty
	// for the first).
	Parent string    `json:"parent,omitempty"`
	Data   TimeRange `json:"data"`
	// Validation is measured on the validation split of the training data
	// (what forecast.Train stopped early and calibrated on); Test on the
	// held-out recent data that training never saw.
	Validation Metrics `json:"validation"`
	Test       Metrics `json:"test"`
	// Features names the metrics the version forecasts (the pipeline's
	// target column).
	Features []string `json:"features"`
	// Recipe is the forecaster's recipe (window, horizon, inputs) and
	// Members its number of networks, as read from the artifact.
	Recipe  *forecast.Recipe `json:"recipe,omitempty"`
	Members int              `json:"members,omitempty"`
	// Checkpoint is the forecaster artifact's file name inside the version
	// directory, its SHA-256 and size.
	Checkpoint     string `json:"checkpoint"`
	CheckpointSHA  string `json:"checkpoint_sha256"`
	CheckpointSize int64  `json:"checkpoint_size"`
	// Extra carries the training settings (network size, epochs, why it
	// was trained).
	Extra map[string]string `json:"extra,omitempty"`
}

// Note is one event recorded against a version: a promotion, a rejection
// with its reason, an A/B outcome.
type Note struct {
	Time   time.Time          `json:"time"`
	Kind   string             `json:"kind"`
	Text   string             `json:"text"`
	Values map[string]float64 `json:"values,omitempty"`
}

// VersionInfo is a version's manifest joined with its lifecycle state.
type VersionInfo struct {
	Manifest
	Status Status `json:"status"`
	// Reason is the last status change's or rejection's reason.
	Reason string `json:"reason,omitempty"`
	Notes  []Note `json:"notes,omitempty"`
	// Dir is the version's directory; CheckpointPath the checkpoint file.
	Dir            string `json:"dir"`
	CheckpointPath string `json:"checkpoint_path"`
	// Problem is set by List and Verify when the version's files fail their
	// checksums or are missing; such a version is never served.
	Problem string `json:"problem,omitempty"`
}

func (m *Manifest) validate() error {
	if !validName(m.Model) {
		return fmt.Errorf("model name %q: use letters, digits, '-', '_' and '.' (not leading)", m.Model)
	}
	if !validName(m.Checkpoint) || strings.ContainsAny(m.Checkpoint, `/\`) || len(m.CheckpointSHA) != 64 {
		return fmt.Errorf("manifest of %s %s: missing checkpoint name or sha256", m.Model, m.Version)
	}
	return nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$`)

func validName(s string) bool { return nameRE.MatchString(s) }

func marshalIndent(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic("lifecycle: marshal: " + err.Error())
	}
	return append(b, '\n')
}
