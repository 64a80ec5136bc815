package ingress

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// pick is the per-request state the balancer reads from the request context: the ready
// endpoints, where round robin starts, and what it chose (for the access log and metrics).
type pick struct {
	endpoints []string
	start     uint64
	id        string        // X-Request-ID
	upstream  string        // the endpoint that answered (or was tried last)
	latency   time.Duration // until the upstream's response headers
	tries     int
}

type pickKey struct{}

// maxTries bounds the endpoints tried for one request when connections fail.
const maxTries = 3

// balancer is the ReverseProxy's RoundTripper: it sends the request to the endpoints of the
// pick in turn, moving on to the next one only when connecting fails (nothing was sent, so
// even a POST is safe to retry). Requests without a body go through the upstream client,
// the others through an http.Transport; each keeps a connection pool per endpoint.
type balancer struct {
	transport *http.Transport
	fast      *upstream // nil: the transport for everything
}

func (b *balancer) roundTrip(req *http.Request) (*http.Response, error) {
	if b.fast != nil && b.fast.handles(req) {
		return b.fast.RoundTrip(req)
	}
	return b.transport.RoundTrip(req)
}

func newTransport(dialTimeout, responseTimeout time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   128,
		DisableCompression:    true, // pass Accept-Encoding and the response's encoding through, as nginx does
		IdleConnTimeout:       60 * time.Second,
		ResponseHeaderTimeout: responseTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// onceBody lets a request body survive a failed connection attempt: the transport closes
// the body on every error, so Close is deferred to the balancer, and read says whether any
// byte left (after which a retry would send a truncated body).
type onceBody struct {
	io.ReadCloser
	read atomic.Bool
}

func (b *onceBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.read.Store(true)
	}
	return n, err
}

func (b *onceBody) Close() error { return nil }

func (b *balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	p, _ := req.Context().Value(pickKey{}).(*pick)
	if p == nil || len(p.endpoints) == 0 {
		return nil, errNoEndpoints
	}
	var body *onceBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &onceBody{ReadCloser: req.Body}
		defer req.Body.Close()
	}
	n := len(p.endpoints)
	var err error
	for i := 0; i < n && i < maxTries; i++ {
		ep := p.endpoints[(p.start+uint64(i))%uint64(n)]
		// The ReverseProxy's outgoing request (with its own URL) is ours: the first try
		// reuses it; a retry copies it, as the transport may still hold the failed one.
		out := req
		if i > 0 {
			out = new(http.Request)
			*out = *req
			u := *req.URL
			out.URL = &u
		}
		out.URL.Host = ep
		if body != nil {
			out.Body = body
		}
		p.upstream, p.tries = ep, i+1
		began := time.Now()
		var resp *http.Response
		resp, err = b.roundTrip(out)
		p.latency = time.Since(began)
		if err == nil {
			return resp, nil
		}
		if !dialFailed(err) || (body != nil && body.read.Load()) || req.Context().Err() != nil {
			return nil, err
		}
	}
	return nil, err
}

var errNoEndpoints = errors.New("no ready endpoints")

// dialFailed reports whether err is a failure to connect (refused, unreachable, timed out),
// the case where another endpoint may answer.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" && !errors.Is(err, context.Canceled)
}
