package ingress

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
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
//
// Lines are buffered and written at most FlushInterval after they were logged (or when the
// buffer fills), as nginx's access_log buffer=64k flush=1s: a write per request to a pod's
// stdout costs a system call and a wake-up of whatever reads the pipe, as much as the
// proxying itself. Close (or Flush) writes what is pending.
type AccessLog struct {
	mu      sync.Mutex
	w       io.Writer
	buf     *bufio.Writer
	line    []byte // scratch for one line
	timer   *time.Timer
	pending bool   // lines wait for the timer
	sec     int64  // the second stamp was formatted for
	stamp   []byte // "[02/Jan/2006:15:04:05 -0700]" of sec
	err     error  // the first write error, reported by Flush
	every   time.Duration
}

// FlushInterval bounds how long an access log line stays in the buffer.
const FlushInterval = time.Second

// accessLogBuffer is the size of the buffer: about 300 lines.
const accessLogBuffer = 64 << 10

// NewAccessLog returns an access log writing to w.
func NewAccessLog(w io.Writer) *AccessLog {
	l := &AccessLog{w: w, buf: bufio.NewWriterSize(w, accessLogBuffer), every: FlushInterval}
	l.timer = time.AfterFunc(time.Hour, func() { _ = l.Flush() })
	l.timer.Stop()
	return l
}

// Flush writes the buffered lines.
func (l *AccessLog) Flush() error {
	if l == nil || l.w == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = false
	if err := l.buf.Flush(); err != nil && l.err == nil {
		l.err = err
	}
	return l.err
}

// Close flushes the log and stops its timer; the underlying writer stays open.
func (l *AccessLog) Close() error {
	if l == nil || l.w == nil {
		return nil
	}
	l.timer.Stop()
	return l.Flush()
}

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
	l.mu.Lock()
	defer l.mu.Unlock()
	b := append(l.line[:0], host...)
	b = append(b, " - - "...)
	b = append(b, l.timestamp(e.at)...)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, e.r.Method+" "+e.r.RequestURI+" "+e.r.Proto)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.bytes, 10)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, dash(e.r.Referer()))
	b = append(b, ' ')
	b = strconv.AppendQuote(b, dash(e.r.UserAgent()))
	b = append(b, " upstream="...)
	b = append(b, dash(e.upstream)...)
	b = append(b, " upstream_time="...)
	if e.upstream != "" {
		b = strconv.AppendFloat(b, e.latency.Seconds(), 'f', 3, 64)
	} else {
		b = append(b, '-')
	}
	b = append(b, " request_id="...)
	b = append(b, e.id...)
	b = append(b, " ingress="...)
	b = append(b, dash(e.ingress)...)
	b = append(b, '\n')
	l.line = b
	if _, err := l.buf.Write(b); err != nil && l.err == nil {
		l.err = err
	}
	if !l.pending && l.buf.Buffered() > 0 {
		l.pending = true
		l.timer.Reset(l.every)
	}
}

// timestamp is the bracketed time of at, formatted once per second.
func (l *AccessLog) timestamp(at time.Time) []byte {
	if sec := at.Unix(); sec != l.sec || l.stamp == nil {
		l.sec = sec
		l.stamp = at.AppendFormat(append(l.stamp[:0], '['), "02/Jan/2006:15:04:05 -0700")
		l.stamp = append(l.stamp, ']')
	}
	return l.stamp
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
