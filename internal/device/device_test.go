package device_test

import (
	"strings"
	"testing"

	"github.com/novacron/perfpredict/internal/device"
	"github.com/novacron/perfpredict/internal/device/devicetest"
)

// TestCPUConformance runs the conformance suite on the CPU device.
func TestCPUConformance(t *testing.T) {
	devicetest.Run(t, device.CPU())
}

func TestOpen(t *testing.T) {
	d, err := device.Open("cpu", nil)
	if err != nil || d != device.CPU() {
		t.Fatalf("Open(cpu) = %v, %v", d, err)
	}
	if d, err := device.Open("", nil); err != nil || d != device.CPU() {
		t.Fatalf("Open(\"\") = %v, %v", d, err)
	}
	if _, err := device.Open("tpu", nil); err == nil || !strings.Contains(err.Error(), `"tpu"`) {
		t.Errorf("Open(tpu): %v, want an error naming it", err)
	}
}
