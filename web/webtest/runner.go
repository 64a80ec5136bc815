// Package webtest holds recording fakes of the web package's node interfaces.
package webtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// Call is one command a Runner was asked to run.
type Call struct {
	Node string
	Argv []string
}

// Runner records commands and answers them from Outputs, keyed by "NODE ARGV..." with
// the argv joined by spaces; a missing key fails like a command that does not exist.
type Runner struct {
	Outputs map[string]string
	// Errors makes a command fail (same keys as Outputs).
	Errors map[string]error

	mu    sync.Mutex
	Calls []Call
}

// Run records the call and returns the configured output.
func (r *Runner) Run(_ context.Context, node string, name string, args ...string) ([]byte, error) {
	argv := append([]string{name}, args...)
	r.mu.Lock()
	r.Calls = append(r.Calls, Call{Node: node, Argv: argv})
	r.mu.Unlock()
	key := node + " " + strings.Join(argv, " ")
	if err := r.Errors[key]; err != nil {
		return nil, err
	}
	out, ok := r.Outputs[key]
	if !ok {
		return nil, fmt.Errorf("%s in node %s: exit status 127: command not found", name, node)
	}
	return []byte(out), nil
}

// Commands lists the recorded calls as "NODE ARGV..." strings.
func (r *Runner) Commands() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.Calls {
		out = append(out, c.Node+" "+strings.Join(c.Argv, " "))
	}
	return out
}
