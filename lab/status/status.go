// Package status prints a person's view of long operations (`svclab up` steps), separate
// from the structured logs, like kind's status printer.
package status

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Printer prints one line per step: " ✓ Starting API server (0.4s)" or " ✗ ...".
type Printer struct {
	mu      sync.Mutex
	w       io.Writer
	current string
	started time.Time
	now     func() time.Time
}

// New returns a printer writing to w.
func New(w io.Writer) *Printer { return &Printer{w: w, now: time.Now} }

// Start begins a step, ending the previous one as successful.
func (p *Printer) Start(step string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLocked(true)
	p.current, p.started = step, p.now()
}

// End ends the current step.
func (p *Printer) End(ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLocked(ok)
}

func (p *Printer) endLocked(ok bool) {
	if p.current == "" {
		return
	}
	mark := "✓"
	if !ok {
		mark = "✗"
	}
	fmt.Fprintf(p.w, " %s %s (%.1fs)\n", mark, p.current, p.now().Sub(p.started).Seconds())
	p.current = ""
}

// Printf prints a line outside any step.
func (p *Printer) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}
