//go:build !cuda || !cgo

package cuda

import (
	"errors"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/internal/device"
)

func TestStubReportsTheMissingTag(t *testing.T) {
	if _, err := Open(); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("Open: %v, want ErrNotBuilt", err)
	}
	_, err := device.Open("cuda", nil)
	if err == nil || !strings.Contains(err.Error(), "built without -tags cuda") {
		t.Fatalf(`device.Open("cuda"): %v, want the "built without -tags cuda" error`, err)
	}
	var logged []string
	d, err := device.Open("auto", func(f string, a ...any) { logged = append(logged, f) })
	if err != nil || d != device.CPU() {
		t.Fatalf(`device.Open("auto") = %v, %v; want the CPU`, d, err)
	}
	if len(logged) != 1 {
		t.Errorf("auto logged %d lines, want 1", len(logged))
	}
}
