package ingress

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Endpoints resolves a backend to the addresses ("ip:port") of its ready endpoints: the
// Service port (by number or name) mapped through EndpointSlices to target ports.
type Endpoints interface {
	Ready(b Backend) []string
}

// HandlerOptions tune the proxy; zero values take the defaults in brackets.
type HandlerOptions struct {
	DialTimeout     time.Duration // per endpoint connection attempt [5s, ingress-nginx's proxy-connect-timeout]
	UpstreamTimeout time.Duration // until the upstream's response headers [60s, proxy-read-timeout]
	MaxBodyBytes    int64         // request body limit, 413 above it [1 MiB, ingress-nginx's proxy-body-size]; <0: none
	HTTPSPort       int           // port of the HTTPS listener in redirects [443]
	Metrics         *Metrics      // nil: none
	AccessLog       *AccessLog    // nil: none
	Log             *slog.Logger
}

// Handler is the ingress reverse proxy: it looks the request up in the current Table and
// balances it round robin over the backend's ready endpoints.
type Handler struct {
	table atomic.Pointer[Table]
	tls   atomic.Pointer[map[string]bool] // hosts with a usable certificate (redirected to HTTPS)
	eps   Endpoints
	opts  HandlerOptions
	rr    sync.Map // Backend → *atomic.Uint64
	proxy *httputil.ReverseProxy
	tr    *http.Transport
	fast  *upstream
}

// NewHandler returns a proxy over eps serving an empty table until SetTable.
func NewHandler(eps Endpoints, o HandlerOptions) *Handler {
	if o.DialTimeout == 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.UpstreamTimeout == 0 {
		o.UpstreamTimeout = 60 * time.Second
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.HTTPSPort == 0 {
		o.HTTPSPort = 443
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{eps: eps, opts: o, tr: newTransport(o.DialTimeout, o.UpstreamTimeout), fast: newUpstream(o.DialTimeout, o.UpstreamTimeout)}
	h.table.Store(NewTable(nil))
	h.proxy = &httputil.ReverseProxy{
		Rewrite:      h.rewrite,
		Transport:    &balancer{transport: h.tr, fast: h.fast},
		ErrorHandler: h.proxyError,
		BufferPool:   bufferPool{},
		ErrorLog:     slog.NewLogLogger(o.Log.Handler(), slog.LevelDebug),
	}
	return h
}

// SetTable swaps the routing table; requests in flight finish on the old one.
func (h *Handler) SetTable(t *Table) { h.table.Store(t) }

// Table is the current routing table.
func (h *Handler) Table() *Table { return h.table.Load() }

// SetTLSHosts sets the host patterns (exact or "*.suffix") whose plain-HTTP requests are
// redirected to HTTPS: the TLS hosts whose certificate loaded.
func (h *Handler) SetTLSHosts(hosts map[string]bool) { h.tls.Store(&hosts) }

// CloseIdleConnections closes the pooled upstream connections.
func (h *Handler) CloseIdleConnections() {
	h.tr.CloseIdleConnections()
	h.fast.CloseIdleConnections()
}

// exchange is the per-request state, allocated once: the response recorder and the pick.
type exchange struct {
	rec  recorder
	pick pick
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	x := &exchange{rec: recorder{ResponseWriter: w}}
	rec, p := &x.rec, &x.pick
	p.id = r.Header.Get("X-Request-ID")
	if p.id == "" {
		p.id = newRequestID()
	}
	route, ok := h.table.Load().Match(r.Host, r.URL.Path)
	defer func() {
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		h.opts.AccessLog.write(logEntry{r: r, at: at, status: rec.status, bytes: rec.bytes, upstream: p.upstream, latency: p.latency, id: p.id, ingress: route.ingressName})
		h.observe(route, ok, rec.status, p)
	}()
	switch {
	case !ok:
		http.Error(rec, "default backend - 404", http.StatusNotFound)
		return
	case r.TLS == nil && h.redirect(r.Host):
		target := "https://" + httpsHost(r.Host, h.opts.HTTPSPort) + r.URL.RequestURI()
		http.Redirect(rec, r, target, http.StatusPermanentRedirect)
		return
	}
	p.endpoints = h.eps.Ready(route.Backend)
	if len(p.endpoints) == 0 {
		http.Error(rec, "503 Service Temporarily Unavailable: no ready endpoints for "+route.Backend.String(), http.StatusServiceUnavailable)
		return
	}
	if max := h.opts.MaxBodyBytes; max > 0 && r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > max {
			http.Error(rec, "413 Request Entity Too Large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, max)
	}
	p.start = h.counter(route.Backend).Add(1) - 1
	if h.fastPath(r) {
		h.serveFast(rec, r, p, at)
		return
	}
	h.proxy.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), pickKey{}, p)))
}

func (h *Handler) counter(b Backend) *atomic.Uint64 {
	if c, ok := h.rr.Load(b); ok {
		return c.(*atomic.Uint64)
	}
	c, _ := h.rr.LoadOrStore(b, new(atomic.Uint64))
	return c.(*atomic.Uint64)
}

func (h *Handler) redirect(host string) bool {
	m := h.tls.Load()
	if m == nil {
		return false
	}
	host = CanonicalHost(host)
	if (*m)[host] {
		return true
	}
	_, suffix, ok := cutLabel(host)
	return ok && (*m)["*."+suffix]
}

func cutLabel(host string) (string, string, bool) {
	for i := 0; i < len(host); i++ {
		if host[i] == '.' {
			return host[:i], host[i+1:], true
		}
	}
	return host, "", false
}

// httpsHost is the Host of the redirect target: the request's host with the HTTPS port
// (omitted when it is 443).
func httpsHost(host string, port int) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if port == 443 {
		if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
			return "[" + host + "]"
		}
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// rewrite sets the upstream scheme (the balancer fills in the endpoint), keeps the client's
// Host header as ingress-nginx does, and adds the forwarding headers.
func (h *Handler) rewrite(pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = "upstream"
	pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"] // appended to, like nginx's $proxy_add_x_forwarded_for
	pr.SetXForwarded()
	if p, _ := pr.In.Context().Value(pickKey{}).(*pick); p != nil && p.id != "" {
		pr.Out.Header["X-Request-Id"] = []string{p.id}
	}
}

func (h *Handler) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	var maxErr *http.MaxBytesError
	status := http.StatusBadGateway
	switch {
	case errors.As(err, &maxErr):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		status = http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		status = 499 // nginx's "client closed request"
	}
	h.opts.Log.Debug("upstream error", "host", r.Host, "path", r.URL.Path, "err", err, "status", status)
	w.WriteHeader(status)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (h *Handler) observe(route Route, ok bool, status int, p *pick) {
	m := h.opts.Metrics
	if m == nil {
		return
	}
	var l routeLabels
	if ok {
		l = routeLabels{route.Host, route.Path, route.Ingress.Namespace, route.Ingress.Name, route.Backend.Service}
	}
	m.route(l).observe(status, p.upstream != "", p.latency.Seconds())
}

// newRequestID is 32 random hex digits, as ingress-nginx's $req_id. It identifies a request
// in logs, not a secret: the runtime's per-thread generator (math/rand/v2) is enough and
// costs no system call, unlike crypto/rand.
func newRequestID() string {
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	var b [32]byte
	hex.Encode(b[:], raw[:])
	return string(b[:])
}

// copyBufferSize is the size of the buffers that copy response bodies.
const copyBufferSize = 32 << 10

var copyBuffers = sync.Pool{New: func() any { return new([copyBufferSize]byte) }}

// bufferPool is the ReverseProxy's httputil.BufferPool: without one it allocates a 32 KiB
// buffer per request. Buffers are pooled as array pointers, so Put allocates nothing.
type bufferPool struct{}

func (bufferPool) Get() []byte { return copyBuffers.Get().(*[copyBufferSize]byte)[:] }

func (bufferPool) Put(b []byte) {
	if len(b) == copyBufferSize {
		copyBuffers.Put((*[copyBufferSize]byte)(b))
	}
}
