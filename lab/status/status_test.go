package status

import (
	"bytes"
	"testing"
	"time"
)

func TestPrinterSteps(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf)
	clock := time.Unix(0, 0)
	p.now = func() time.Time { return clock }
	p.Start("Checking host routes")
	clock = clock.Add(200 * time.Millisecond)
	p.Start("Starting API server")
	clock = clock.Add(1500 * time.Millisecond)
	p.End(false)
	p.End(true) // nothing open: prints nothing
	want := " ✓ Checking host routes (0.2s)\n ✗ Starting API server (1.5s)\n"
	if buf.String() != want {
		t.Fatalf("got %q, want %q", buf.String(), want)
	}
}
