package controllerutil

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
)

// ExpectationsTimeout is how long an unfulfilled expectation blocks a controller before it resyncs
// anyway, as upstream (a watch event may have been lost).
const ExpectationsTimeout = 5 * time.Minute

type expectation struct {
	add, del  int64
	deleting  sets.Set[string]
	timestamp time.Time
}

// Expectations records, per controller key, the pod creations and deletions a controller has
// issued but not yet seen through its informer, so it does not act twice on a stale cache
// (upstream UIDTrackingControllerExpectations).
type Expectations struct {
	mu    sync.Mutex
	items map[string]*expectation
	now   func() time.Time
}

// NewExpectations returns an empty expectations cache.
func NewExpectations() *Expectations {
	return &Expectations{items: map[string]*expectation{}, now: time.Now}
}

// SatisfiedExpectations reports whether the controller for key may sync: nothing is pending,
// everything pending was observed, or the expectation expired.
func (e *Expectations) SatisfiedExpectations(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	exp, ok := e.items[key]
	if !ok {
		return true
	}
	if exp.add <= 0 && exp.del <= 0 {
		return true
	}
	return e.now().Sub(exp.timestamp) > ExpectationsTimeout
}

// ExpectCreations records that n pods are about to be created for key.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.items[key] = &expectation{add: int64(n), deleting: sets.New[string](), timestamp: e.now()}
}

// ExpectDeletions records that the pods with the given namespace/name keys are about to be deleted.
func (e *Expectations) ExpectDeletions(key string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.items[key] = &expectation{del: int64(len(podKeys)), deleting: sets.New(podKeys...), timestamp: e.now()}
}

// CreationObserved lowers the pending creations for key by one.
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if exp, ok := e.items[key]; ok {
		exp.add--
	}
}

// SetExpectations records add creations and del deletions for key without tracking which
// pods are deleted: any observed deletion counts (upstream ControllerExpectations).
func (e *Expectations) SetExpectations(key string, add, del int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.items[key] = &expectation{add: int64(add), del: int64(del), timestamp: e.now()}
}

// LowerExpectations lowers the pending creations and deletions for key.
func (e *Expectations) LowerExpectations(key string, add, del int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if exp, ok := e.items[key]; ok {
		exp.add -= int64(add)
		exp.del -= int64(del)
	}
}

// DeletionObserved lowers the pending deletions for key by one if podKey was one of them (or,
// for expectations set with SetExpectations, for any pod).
func (e *Expectations) DeletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	exp, ok := e.items[key]
	if !ok {
		return
	}
	if exp.deleting == nil {
		exp.del--
		return
	}
	if exp.deleting.Has(podKey) {
		exp.deleting.Delete(podKey)
		exp.del--
	}
}

// DeleteExpectations forgets everything recorded for key.
func (e *Expectations) DeleteExpectations(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}
