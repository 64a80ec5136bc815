package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// hub turns informer events into topology snapshots for Server-Sent Events: changes are
// collected for one debounce interval, then one snapshot is built and sent to every
// subscriber, unless it equals the last one sent.
type hub struct {
	build    func() Topology
	debounce time.Duration

	mu      sync.Mutex
	timer   *time.Timer
	last    []byte
	subs    map[chan []byte]struct{}
	readyCh chan struct{}
	isReady bool
}

func newHub(build func() Topology, debounce time.Duration) *hub {
	return &hub{build: build, debounce: debounce, subs: map[chan []byte]struct{}{}, readyCh: make(chan struct{})}
}

// ready marks the caches synced and sends the first snapshot.
func (h *hub) ready() {
	h.mu.Lock()
	if !h.isReady {
		h.isReady = true
		close(h.readyCh)
	}
	h.mu.Unlock()
	h.fire()
}

// changed schedules a snapshot after the debounce interval (events until then share it).
func (h *hub) changed() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.isReady || h.timer != nil {
		return
	}
	h.timer = time.AfterFunc(h.debounce, h.fire)
}

func (h *hub) fire() {
	h.mu.Lock()
	h.timer = nil
	h.mu.Unlock()
	data, err := json.Marshal(h.build())
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if bytes.Equal(data, h.last) {
		return
	}
	h.last = data
	for ch := range h.subs {
		// Each subscriber holds at most one pending snapshot: a newer one replaces it.
		select {
		case <-ch:
		default:
		}
		ch <- data
	}
}

// subscribe returns a channel of snapshots, starting with the current one once the caches
// are synced, and a function that ends the subscription.
func (h *hub) subscribe() (<-chan []byte, func()) {
	ch := make(chan []byte, 1)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	if h.last != nil {
		ch <- h.last
	}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

func (s *Server) waitSynced(r *http.Request) bool {
	select {
	case <-s.topo.hub.readyCh:
		return true
	case <-r.Context().Done():
		return false
	case <-time.After(30 * time.Second):
		return false
	}
}

func (s *Server) getTopology(w http.ResponseWriter, r *http.Request) {
	if !s.waitSynced(r) {
		writeError(w, http.StatusServiceUnavailable, "the topology is not loaded yet: is the lab's API server up? (svclab status)")
		return
	}
	writeJSON(w, http.StatusOK, s.topo.snapshot())
}

// topologyEvents streams a full topology snapshot as an SSE "topology" event on connect and
// after every change.
func (s *Server) topologyEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming is not supported by this connection")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	fl.Flush()
	ch, cancel := s.topo.hub.subscribe()
	defer cancel()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case data := <-ch:
			fmt.Fprintf(w, "event: topology\ndata: %s\n\n", data)
			fl.Flush()
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
			fl.Flush()
		}
	}
}
