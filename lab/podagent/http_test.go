package podagent

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testID = Identity{PodName: "web-abc", Namespace: "default", PodIP: "10.244.1.5", NodeName: "svclab-worker", Version: "v1"}

func do(t *testing.T, h http.Handler, method, target string, hdr map[string]string, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.RemoteAddr = "10.244.2.7:51234"
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlerEndpoints(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		hdr        map[string]string
		body       string
		wantCode   int
		wantBody   string // exact when wantExact, else substring
		wantExact  bool
		wantCTJSON bool
	}{
		{name: "identity", method: "GET", target: "http://web.example/", wantCode: 200, wantExact: true,
			wantBody: "pod=web-abc ns=default ip=10.244.1.5 node=svclab-worker version=v1 client=10.244.2.7:51234 host=web.example path=/\n"},
		{name: "any path answers identity", method: "GET", target: "http://web.example/api/v1", wantCode: 200,
			wantBody: "host=web.example path=/api/v1\n"},
		{name: "head", method: "HEAD", target: "/", wantCode: 200},
		{name: "json by accept", method: "GET", target: "/", hdr: map[string]string{"Accept": "application/json"}, wantCode: 200,
			wantBody: `"pod": "web-abc"`, wantCTJSON: true},
		{name: "json path", method: "GET", target: "/json", wantCode: 200, wantBody: `"client": "10.244.2.7:51234"`, wantCTJSON: true},
		{name: "healthz", method: "GET", target: "/healthz", wantCode: 200, wantBody: "ok\n", wantExact: true},
		{name: "readyz", method: "GET", target: "/readyz", wantCode: 200, wantBody: "ready\n", wantExact: true},
		{name: "ready needs POST", method: "GET", target: "/ready?value=false", wantCode: 405},
		{name: "ready bad value", method: "POST", target: "/ready?value=maybe", wantCode: 400},
		{name: "fail-liveness needs POST", method: "GET", target: "/fail-liveness", wantCode: 405},
		{name: "echo", method: "POST", target: "http://ing.example/echo?x=1", body: "payload",
			hdr: map[string]string{"X-Forwarded-For": "203.0.113.9", "User-Agent": "t"}, wantCode: 200,
			wantBody: "POST /echo?x=1 HTTP/1.1\nHost: ing.example\nUser-Agent: t\nX-Forwarded-For: 203.0.113.9\n\npayload"},
		{name: "echo json", method: "GET", target: "/echo", hdr: map[string]string{"Accept": "application/json", "X-Forwarded-For": "203.0.113.9"},
			wantCode: 200, wantBody: `"203.0.113.9"`, wantCTJSON: true},
		{name: "sleep", method: "GET", target: "/sleep?d=1ms", wantCode: 200, wantBody: "slept=1ms"},
		{name: "sleep bad duration", method: "GET", target: "/sleep?d=soon", wantCode: 400},
		{name: "status 503", method: "GET", target: "/status/503", wantCode: 503, wantBody: "503 Service Unavailable\npod=web-abc"},
		{name: "status 201", method: "POST", target: "/status/201", wantCode: 201},
		{name: "status out of range", method: "GET", target: "/status/42", wantCode: 400},
	}
	h := NewHandler(testID, NewState(true, ""))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, h, tt.method, tt.target, tt.hdr, tt.body)
			if w.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d; body %q", w.Code, tt.wantCode, w.Body.String())
			}
			got := w.Body.String()
			if tt.wantExact && got != tt.wantBody {
				t.Errorf("body = %q, want %q", got, tt.wantBody)
			}
			if !tt.wantExact && !strings.Contains(got, tt.wantBody) {
				t.Errorf("body = %q, want it to contain %q", got, tt.wantBody)
			}
			if ct := w.Header().Get("Content-Type"); tt.wantCTJSON != (ct == "application/json") {
				t.Errorf("Content-Type = %q, want JSON %t", ct, tt.wantCTJSON)
			}
		})
	}
}

func TestIdentityJSONDecodes(t *testing.T) {
	h := NewHandler(testID, NewState(true, ""))
	w := do(t, h, "GET", "http://svc.example/json", map[string]string{"X-Test": "1"}, "")
	var got Reply
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("decode %q: %v", w.Body.String(), err)
	}
	if got.Identity != testID || got.Client != "10.244.2.7:51234" || got.Host != "svc.example" || got.Headers["X-Test"][0] != "1" {
		t.Errorf("reply = %+v", got)
	}
}

func TestReadinessSwitching(t *testing.T) {
	state := NewState(false, "")
	h := NewHandler(testID, state)
	steps := []struct {
		method, target string
		wantReadyz     int
	}{
		{"GET", "/readyz", 503}, // started with --ready=false
		{"POST", "/ready?value=true", 200},
		{"POST", "/ready?value=false", 503},
		{"PUT", "/ready", 200}, // no value means true
	}
	for i, s := range steps {
		if w := do(t, h, s.method, s.target, nil, ""); w.Code >= 400 && s.method != "GET" {
			t.Fatalf("step %d: %s %s = %d", i, s.method, s.target, w.Code)
		}
		if w := do(t, h, "GET", "/readyz", nil, ""); w.Code != s.wantReadyz {
			t.Errorf("step %d (%s %s): /readyz = %d, want %d", i, s.method, s.target, w.Code, s.wantReadyz)
		}
	}
	state.SetTerminating()
	if w := do(t, h, "GET", "/readyz", nil, ""); w.Code != 503 || w.Body.String() != "shutting down\n" {
		t.Errorf("terminating: /readyz = %d %q, want 503 shutting down", w.Code, w.Body.String())
	}
	if w := do(t, h, "GET", "/healthz", nil, ""); w.Code != 200 {
		t.Errorf("terminating: /healthz = %d, want 200 (liveness is independent)", w.Code)
	}
}

func TestLivenessFailure(t *testing.T) {
	file := filepath.Join(t.TempDir(), "unhealthy")
	h := NewHandler(testID, NewState(true, file))
	check := func(step string, want int) {
		t.Helper()
		if w := do(t, h, "GET", "/healthz", nil, ""); w.Code != want {
			t.Errorf("%s: /healthz = %d, want %d", step, w.Code, want)
		}
	}
	check("initially", 200)
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	check("fail file present", 500)
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	check("fail file removed", 200)
	do(t, h, "POST", "/fail-liveness", nil, "")
	check("after POST /fail-liveness", 500)
	if w := do(t, h, "GET", "/readyz", nil, ""); w.Code != 200 {
		t.Errorf("readiness must not follow liveness: /readyz = %d", w.Code)
	}
	do(t, h, "POST", "/fail-liveness?value=false", nil, "")
	check("after POST /fail-liveness?value=false", 200)
}

func TestAccessLogLine(t *testing.T) {
	var b strings.Builder
	l := &accessLogger{out: &b, now: func() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC) }}
	h := l.wrap(NewHandler(testID, NewState(true, "")))
	r := httptest.NewRequest("GET", "/status/503", nil)
	r.RemoteAddr = "10.244.2.7:51234"
	r.Header.Set("User-Agent", "curl/8.5.0")
	h.ServeHTTP(httptest.NewRecorder(), r)
	line := b.String()
	prefix := `2026-01-02T15:04:05Z http 10.244.2.7:51234 "GET /status/503 HTTP/1.1" 503 `
	if !strings.HasPrefix(line, prefix) || !strings.HasSuffix(line, "\"curl/8.5.0\"\n") || strings.Count(line, "\n") != 1 {
		t.Errorf("access log = %q, want one line starting %q", line, prefix)
	}
}
