package podagent

import (
	"os"
	"sync/atomic"
)

// State is the agent's switchable health: readiness, liveness and whether it is shutting down.
type State struct {
	ready        atomic.Bool
	livenessFail atomic.Bool
	terminating  atomic.Bool
	failFile     string
}

// NewState returns a state with the given initial readiness; while failFile (if set) exists,
// the agent reports itself not alive.
func NewState(ready bool, failFile string) *State {
	s := &State{failFile: failFile}
	s.ready.Store(ready)
	return s
}

// SetReady switches readiness.
func (s *State) SetReady(v bool) { s.ready.Store(v) }

// Ready reports whether /readyz succeeds: switched on and not shutting down.
func (s *State) Ready() bool { return s.ready.Load() && !s.terminating.Load() }

// SetLivenessFailed makes /healthz fail (true) or succeed again (false).
func (s *State) SetLivenessFailed(v bool) { s.livenessFail.Store(v) }

// Alive reports whether /healthz succeeds.
func (s *State) Alive() bool {
	if s.livenessFail.Load() {
		return false
	}
	if s.failFile != "" {
		if _, err := os.Stat(s.failFile); err == nil {
			return false
		}
	}
	return true
}

// SetTerminating marks the agent as shutting down, which fails readiness.
func (s *State) SetTerminating() { s.terminating.Store(true) }

// Terminating reports whether shutdown has begun.
func (s *State) Terminating() bool { return s.terminating.Load() }
