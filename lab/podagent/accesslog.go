package podagent

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// accessLogger writes one line per request or exchange; writes are serialised so lines from
// concurrent requests never interleave.
type accessLogger struct {
	mu  sync.Mutex
	out io.Writer
	now func() time.Time
}

func (l *accessLogger) printf(format string, args ...any) {
	if l == nil || l.out == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.out, "%s "+format+"\n", append([]any{l.now().UTC().Format(time.RFC3339)}, args...)...)
}

// WithAccessLog wraps h so each request is logged to out as
//
//	2026-01-02T15:04:05Z http 10.244.2.7:51234 "GET / HTTP/1.1" 200 97 1.2ms "curl/8.5.0"
func WithAccessLog(h http.Handler, out io.Writer) http.Handler {
	l := &accessLogger{out: out, now: time.Now}
	return l.wrap(h)
}

func (l *accessLogger) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		l.printf("http %s %q %d %d %s %q", r.RemoteAddr, r.Method+" "+r.URL.RequestURI()+" "+r.Proto,
			rec.status, rec.bytes, time.Since(start).Round(time.Microsecond), r.UserAgent())
	})
}

// statusRecorder remembers the status code and body size a handler wrote.
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

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
