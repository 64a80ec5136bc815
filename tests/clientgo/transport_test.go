package clientgo

import (
	"net/http"
	"strings"
	"sync"
)

// requestLog counts the requests a client sends, by the shape that matters for informers:
// streaming-list watches (watch=true&sendInitialEvents=true), other watches, and plain
// LISTs of a collection.
type requestLog struct {
	mu          sync.Mutex
	watchLists  []string
	watches     []string
	plainLists  []string
	collections []string // collection path suffixes that count as lists, e.g. "/services"
}

func newRequestLog(collections ...string) *requestLog {
	return &requestLog{collections: collections}
}

// wrap is a rest.Config.WrapTransport that records every request before sending it.
func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		l.record(req)
		return rt.RoundTrip(req)
	})
}

func (l *requestLog) record(req *http.Request) {
	if req.Method != http.MethodGet {
		return
	}
	q := req.URL.Query()
	uri := req.URL.RequestURI()
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case q.Get("watch") == "true" || q.Get("watch") == "1":
		if q.Get("sendInitialEvents") == "true" {
			l.watchLists = append(l.watchLists, uri)
		} else {
			l.watches = append(l.watches, uri)
		}
	case l.isCollection(req.URL.Path):
		l.plainLists = append(l.plainLists, uri)
	}
}

func (l *requestLog) isCollection(path string) bool {
	for _, c := range l.collections {
		if strings.HasSuffix(path, c) {
			return true
		}
	}
	return false
}

// snapshot returns copies of the recorded requests.
func (l *requestLog) snapshot() (watchLists, watches, plainLists []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.watchLists...), append([]string(nil), l.watches...), append([]string(nil), l.plainLists...)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
