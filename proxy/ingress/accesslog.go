package ingress

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// recorder captures the status and size of a response for the access log and metrics.
// Unwrap lets http.ResponseController reach Hijack (WebSocket upgrades) and Flush.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 || code == http.StatusSwitchingProtocols {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush is here as well as behind Unwrap, for callers that only type-assert http.Flusher.
func (r *recorder) Flush() { _ = http.NewResponseController(r.ResponseWriter).Flush() }

// Hijack is here for callers that only type-assert http.Hijacker.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be hijacked")
	}
	if r.status == 0 {
		r.status = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}

// AccessLog writes one line per request in the combined log format, followed by the
// upstream, its response time, the request id and the Ingress:
//
//	203.0.113.7 - - [30/Nov/2026:03:24:34 +0000] "GET /app HTTP/1.1" 200 12 "-" "curl/8.5" upstream=10.244.1.5:8080 upstream_time=0.001 request_id=… ingress=default/web
type AccessLog struct {
	mu sync.Mutex
	w  io.Writer
}

// NewAccessLog returns an access log writing to w.
func NewAccessLog(w io.Writer) *AccessLog { return &AccessLog{w: w} }

type logEntry struct {
	r        *http.Request
	at       time.Time
	status   int
	bytes    int64
	upstream string
	latency  time.Duration
	id       string
	ingress  string
}

func (l *AccessLog) write(e logEntry) {
	if l == nil || l.w == nil {
		return
	}
	host, _, err := net.SplitHostPort(e.r.RemoteAddr)
	if err != nil {
		host = e.r.RemoteAddr
	}
	upstream, rt := dash(e.upstream), "-"
	if e.upstream != "" {
		rt = fmt.Sprintf("%.3f", e.latency.Seconds())
	}
	line := fmt.Sprintf("%s - - [%s] %q %d %d %q %q upstream=%s upstream_time=%s request_id=%s ingress=%s\n",
		host, e.at.Format("02/Jan/2006:15:04:05 -0700"), e.r.Method+" "+e.r.RequestURI+" "+e.r.Proto,
		e.status, e.bytes, dash(e.r.Referer()), dash(e.r.UserAgent()), upstream, rt, e.id, dash(e.ingress))
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, line)
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
