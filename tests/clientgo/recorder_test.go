package clientgo

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/cache"
)

// eventType is what an informer handler was called for.
type eventType string

const (
	added   eventType = "ADD"
	updated eventType = "UPDATE"
	deleted eventType = "DELETE"
)

// event is one handler call: the object's kind, key and resourceVersion (for a delete,
// the last state the informer knew).
type event struct {
	typ  eventType
	kind string
	key  string
	rv   string
}

func (e event) String() string { return fmt.Sprintf("%s %s %s@%s", e.typ, e.kind, e.key, e.rv) }

// recorder keeps every handler call of a set of informers, in order.
type recorder struct {
	mu     sync.Mutex
	events []event
}

// handler returns the event handler for informers of kind.
func (r *recorder) handler(kind string) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.add(added, kind, obj) },
		UpdateFunc: func(_, obj any) { r.add(updated, kind, obj) },
		DeleteFunc: func(obj any) { r.add(deleted, kind, obj) },
	}
}

func (r *recorder) add(typ eventType, kind string, obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		panic(fmt.Sprintf("informer delivered a %T: %v", obj, err))
	}
	key := m.GetName()
	if ns := m.GetNamespace(); ns != "" {
		key = ns + "/" + key
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{typ: typ, kind: kind, key: key, rv: m.GetResourceVersion()})
}

// find reports whether an event matching want was recorded; an empty rv or typ matches any.
func (r *recorder) find(want event) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.kind == want.kind && e.key == want.key &&
			(want.typ == "" || e.typ == want.typ) && (want.rv == "" || e.rv == want.rv) {
			return true
		}
	}
	return false
}

// all returns a copy of the recorded events.
func (r *recorder) all() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...)
}
