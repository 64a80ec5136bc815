package ingress

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
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
	h := &Handler{eps: eps, opts: o, tr: newTransport(o.DialTimeout, o.UpstreamTimeout)}
	h.table.Store(NewTable(nil))
	h.proxy = &httputil.ReverseProxy{
		Rewrite:      h.rewrite,
		Transport:    &balancer{transport: h.tr},
		ErrorHandler: h.proxyError,
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
func (h *Handler) CloseIdleConnections() { h.tr.CloseIdleConnections() }

type requestIDKey struct{}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	rec := &recorder{ResponseWriter: w}
	id := r.Header.Get("X-Request-ID")
	if id == "" {
		id = newRequestID()
	}
	route, ok := h.table.Load().Match(r.Host, r.URL.Path)
	p := &pick{}
	defer func() {
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		ingress := ""
		if ok {
			ingress = route.Ingress.String()
		}
		h.opts.AccessLog.write(logEntry{r: r, at: at, status: rec.status, bytes: rec.bytes, upstream: p.upstream, latency: p.latency, id: id, ingress: ingress})
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
	if max := h.opts.MaxBodyBytes; max > 0 {
		if r.ContentLength > max {
			http.Error(rec, "413 Request Entity Too Large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, max)
	}
	p.start = h.counter(route.Backend).Add(1) - 1
	ctx := context.WithValue(r.Context(), pickKey{}, p)
	ctx = context.WithValue(ctx, requestIDKey{}, id)
	h.proxy.ServeHTTP(rec, r.WithContext(ctx))
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
	if id, _ := pr.In.Context().Value(requestIDKey{}).(string); id != "" {
		pr.Out.Header.Set("X-Request-ID", id)
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
	host, path, ns, ing, svc := "", "", "", "", ""
	if ok {
		host, path, ns, ing, svc = route.Host, route.Path, route.Ingress.Namespace, route.Ingress.Name, route.Backend.Service
	}
	m.requests.WithLabelValues(host, path, ns, ing, svc, strconv.Itoa(status)).Inc()
	if p.upstream != "" {
		m.upstream.WithLabelValues(ns, ing, svc).Observe(p.latency.Seconds())
	}
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
