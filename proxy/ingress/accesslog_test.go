package ingress

import (
	"bytes"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the flush timer's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAccessLogFormatAndFlush: the line format, and buffered lines written by the timer
// without an explicit Flush.
func TestAccessLogFormatAndFlush(t *testing.T) {
	var out lockedBuffer
	l := NewAccessLog(&out)
	l.every = 20 * time.Millisecond
	defer l.Close()
	r := httptest.NewRequest("GET", "/app?q=\"1\"", nil)
	r.RemoteAddr = "203.0.113.7:5555"
	r.Header.Set("User-Agent", "curl/8.5")
	at := time.Date(2026, 11, 30, 3, 24, 34, 0, time.UTC)
	l.write(logEntry{r: r, at: at, status: 200, bytes: 12, upstream: "10.244.1.5:8080", latency: 1500 * time.Microsecond, id: "abc", ingress: "default/web"})
	l.write(logEntry{r: r, at: at.Add(time.Second), status: 404, id: "def"})
	if out.String() != "" {
		t.Errorf("written before the flush interval: %q", out.String())
	}
	want := `203.0.113.7 - - [30/Nov/2026:03:24:34 +0000] "GET /app?q=\"1\" HTTP/1.1" 200 12 "-" "curl/8.5" upstream=10.244.1.5:8080 upstream_time=0.002 request_id=abc ingress=default/web
203.0.113.7 - - [30/Nov/2026:03:24:35 +0000] "GET /app?q=\"1\" HTTP/1.1" 404 0 "-" "curl/8.5" upstream=- upstream_time=- request_id=def ingress=-
`
	eventually(t, "the timer's flush", func() bool { return out.String() != "" })
	if got := out.String(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}
