package sidecar

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// Header is the header the sidecar adds to every request it forwards (the app sees which proxy
// it came through) and to every response (the client sees it too).
const Header = "X-Svclab-Sidecar"

// RequestIDHeader carries a request ID, set by the sidecar when the client sent none, so the
// access logs of every hop can be joined.
const RequestIDHeader = "X-Request-Id"

// Defaults for Options.
const (
	DefaultListen   = ":15001"
	DefaultAdmin    = ":15000"
	DefaultUpstream = "http://127.0.0.1:80"
	DefaultRetries  = 2
)

// Options configures the sidecar.
type Options struct {
	// Listen is where clients (the Service) reach the sidecar.
	Listen string
	// Admin serves /stats (metrics in Prometheus text format) and /healthz; "" disables it.
	Admin string
	// Upstream is the app the sidecar fronts, normally on the pod's loopback.
	Upstream string
	// Name identifies this proxy in the header it adds (the pod name).
	Name string
	// Retries is how many more times an idempotent request is tried when the app cannot be
	// reached (connection refused or reset).
	Retries int
	// AccessLog receives one line per request (stdout in the binary).
	AccessLog io.Writer
	// Log receives lifecycle messages.
	Log *slog.Logger
}

// Sidecar is the proxy and its counters.
type Sidecar struct {
	opts     Options
	upstream *url.URL
	proxy    *httputil.ReverseProxy
	stats    *Stats
	now      func() time.Time
}

// New returns a sidecar for opts, or an error naming the bad option.
func New(opts Options) (*Sidecar, error) {
	if opts.Upstream == "" {
		opts.Upstream = DefaultUpstream
	}
	u, err := url.Parse(opts.Upstream)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("upstream %q: want http://HOST:PORT, e.g. %s", opts.Upstream, DefaultUpstream)
	}
	if opts.Retries < 0 {
		return nil, fmt.Errorf("retries must not be negative")
	}
	if opts.Name == "" {
		opts.Name = "sidecar"
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Sidecar{opts: opts, upstream: u, stats: newStats(), now: time.Now}
	s.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // the app sees the Host the client asked for
			r.SetXForwarded()
			r.Out.Header.Set(Header, opts.Name)
		},
		Transport: &retrier{next: http.DefaultTransport, retries: opts.Retries, stats: s.stats},
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set(Header, opts.Name)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.stats.upstreamError()
			w.Header().Set(Header, opts.Name)
			http.Error(w, fmt.Sprintf("sidecar %s: upstream %s unreachable: %v", opts.Name, u.Host, err), http.StatusBadGateway)
		},
	}
	return s, nil
}

// Stats returns the sidecar's counters.
func (s *Sidecar) Stats() *Stats { return s.stats }

// ServeHTTP proxies one request to the upstream, with a request ID, the sidecar header, an
// access log line and counters.
func (s *Sidecar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	if r.Header.Get(RequestIDHeader) == "" {
		r.Header.Set(RequestIDHeader, newRequestID())
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.proxy.ServeHTTP(rec, r)
	d := s.now().Sub(start)
	s.stats.observe(rec.status, d)
	if s.opts.AccessLog != nil {
		fmt.Fprintf(s.opts.AccessLog, "%s sidecar=%s client=%s %q %d %dB upstream=%s %s request_id=%s\n",
			start.UTC().Format(time.RFC3339), s.opts.Name, r.RemoteAddr, r.Method+" "+r.URL.RequestURI()+" "+r.Proto,
			rec.status, rec.bytes, s.upstream.Host, d.Round(time.Microsecond), r.Header.Get(RequestIDHeader))
	}
}

// AdminHandler serves /stats (Prometheus text format) and /healthz.
func (s *Sidecar) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		s.stats.WriteText(w)
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		s.stats.WriteText(w)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	return mux
}

// Run serves the proxy (and the admin endpoints) until ctx is done.
func Run(ctx context.Context, opts Options) error {
	s, err := New(opts)
	if err != nil {
		return err
	}
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	servers := []*http.Server{{Addr: opts.Listen, Handler: s, ReadHeaderTimeout: 10 * time.Second}}
	if opts.Admin != "" {
		servers = append(servers, &http.Server{Addr: opts.Admin, Handler: s.AdminHandler(), ReadHeaderTimeout: 10 * time.Second})
	}
	errc := make(chan error, len(servers))
	for _, srv := range servers {
		ln, err := net.Listen("tcp", srv.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", srv.Addr, err)
		}
		s.opts.Log.Info("serving", "address", ln.Addr().String(), "upstream", s.upstream.String())
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		_ = srv.Shutdown(shutdown)
	}
	return nil
}

// retrier retries idempotent requests without a body when the upstream cannot be reached.
type retrier struct {
	next    http.RoundTripper
	retries int
	stats   *Stats
}

func (t *retrier) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	for i := 0; err != nil && i < t.retries && idempotent(r) && r.Context().Err() == nil; i++ {
		t.stats.retry()
		select {
		case <-time.After(time.Duration(50*(i+1)) * time.Millisecond):
		case <-r.Context().Done():
			return nil, err
		}
		resp, err = t.next.RoundTrip(r)
	}
	return resp, err
}

func idempotent(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return r.Body == nil || r.Body == http.NoBody
	}
	return false
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status code and body size written.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	bytes       int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
