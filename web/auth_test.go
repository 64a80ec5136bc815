package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNoTokenServesOnlyTheLoginPage(t *testing.T) {
	env := newTestEnv(t)
	w := env.do("GET", "/", false)
	wantStatus(t, w, http.StatusUnauthorized)
	body := w.Body.String()
	for _, want := range []string{`data-testid="token"`, `data-testid="login"`} {
		if !strings.Contains(body, want) {
			t.Errorf("login page lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "app.js") {
		t.Error("the login page must not load the app")
	}
	for _, path := range []string{"/static/app.js", "/static/index.html", "/api/exercises", "/api/topology"} {
		if w := env.do("GET", path, false); w.Code != http.StatusUnauthorized {
			t.Errorf("GET %s without token: status %d, want 401", path, w.Code)
		}
	}
	if w := env.do("GET", "/api/exercises", false, "Authorization", "Bearer wrong"); w.Code != http.StatusUnauthorized {
		t.Errorf("wrong bearer token: status %d, want 401", w.Code)
	}
}

func TestTokenInURLSetsCookieAndRedirects(t *testing.T) {
	env := newTestEnv(t)
	w := env.do("GET", "/?token=wrong", false)
	wantStatus(t, w, http.StatusUnauthorized)
	if len(w.Result().Cookies()) != 0 {
		t.Error("a wrong token must not set a cookie")
	}

	w = env.do("GET", "/?token="+testToken, false)
	wantStatus(t, w, http.StatusSeeOther)
	if loc := w.Header().Get("Location"); loc != "/" {
		t.Errorf("Location %q, want /", loc)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Value != testToken || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie %+v: want the token, HttpOnly, SameSite=Strict", cookies)
	}

	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookies[0])
	rec := httptest.NewRecorder()
	env.srv.Handler().ServeHTTP(rec, r)
	wantStatus(t, rec, http.StatusOK)
	if !strings.Contains(rec.Body.String(), `data-testid="nav-exercises"`) {
		t.Errorf("with the cookie / serves the app; got:\n%s", rec.Body.String())
	}
	r = httptest.NewRequest("GET", "/static/app.js", nil)
	r.AddCookie(cookies[0])
	rec = httptest.NewRecorder()
	env.srv.Handler().ServeHTTP(rec, r)
	wantStatus(t, rec, http.StatusOK)
}

func TestBearerTokenWorks(t *testing.T) {
	env := newTestEnv(t)
	wantStatus(t, env.do("GET", "/api/exercises", true), http.StatusOK)
	// A program (no Origin) may POST with the bearer token.
	wantStatus(t, env.do("POST", "/api/exercises/nodeport/steps/expose/check", true), http.StatusOK)
}

func TestStateChangingRequestsCheckOrigin(t *testing.T) {
	env := newTestEnv(t)
	const check = "/api/exercises/nodeport/steps/expose/check"
	// httptest requests have Host example.com.
	w := env.do("POST", check, true, "Origin", "http://evil.example")
	wantStatus(t, w, http.StatusForbidden)
	wantStatus(t, env.do("GET", "/api/terminal?node=n1", true, "Origin", "http://evil.example", "Upgrade", "websocket", "Connection", "Upgrade"), http.StatusForbidden)
	wantStatus(t, env.do("POST", check, true, "Origin", "http://example.com"), http.StatusOK)

	// A cookie alone (a browser attaching it) needs the Origin header.
	post := func(origin string) int {
		r := httptest.NewRequest("POST", check, nil)
		r.AddCookie(&http.Cookie{Name: cookieName, Value: testToken})
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		rec := httptest.NewRecorder()
		env.srv.Handler().ServeHTTP(rec, r)
		return rec.Code
	}
	if c := post(""); c != http.StatusForbidden {
		t.Errorf("cookie POST without Origin: status %d, want 403", c)
	}
	if c := post("http://evil.example"); c != http.StatusForbidden {
		t.Errorf("cookie POST cross-origin: status %d, want 403", c)
	}
	if c := post("http://example.com"); c != http.StatusOK {
		t.Errorf("cookie POST same-origin: status %d, want 200", c)
	}
	if len(env.checker.calls) != 2 {
		t.Errorf("checks ran %d times (%v), want 2 (only the allowed requests)", len(env.checker.calls), env.checker.calls)
	}
}
