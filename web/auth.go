package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
)

// cookieName holds the token once the login page (or ?token=) accepted it.
const cookieName = "svclab_token"

// NewToken returns a fresh access token: 32 random bytes, hex.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func (s *Server) validToken(t string) bool {
	return t != "" && subtle.ConstantTimeCompare([]byte(t), []byte(s.token)) == 1
}

// authMethod tells how a request proved it has the token: "bearer", "cookie" or "".
func (s *Server) authMethod(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") && s.validToken(strings.TrimPrefix(h, "Bearer ")) {
		return "bearer"
	}
	if c, err := r.Cookie(cookieName); err == nil && s.validToken(c.Value) {
		return "cookie"
	}
	return ""
}

// sameOrigin checks a state-changing request (POST, WebSocket upgrade): its Origin must be
// this server's own origin. Browsers always send Origin on these; a request without one
// comes from a program, which must then authenticate with the Authorization header, never
// with a cookie a browser attached on its own.
func sameOrigin(r *http.Request, method string) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return method == "bearer"
	}
	u, err := url.Parse(o)
	return err == nil && u.Scheme == "http" && u.Host == r.Host
}

func isStateChanging(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead ||
		strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// authed wraps the API and assets: the token is required, and state-changing requests
// must come from the UI's own origin.
func (s *Server) authed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := s.authMethod(r)
		if m == "" {
			if strings.HasPrefix(r.URL.Path, "/api/") {
				writeError(w, http.StatusUnauthorized, "the access token is missing or wrong: open the URL `svclab up` printed (…/?token=…), or send Authorization: Bearer TOKEN")
				return
			}
			http.Error(w, "unauthorized: open the URL `svclab up` printed", http.StatusUnauthorized)
			return
		}
		if isStateChanging(r) && !sameOrigin(r, m) {
			writeError(w, http.StatusForbidden, "cross-origin request refused: the Origin header must be this server's own origin")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// index serves the app to an authenticated browser, the login page to anyone else, and
// turns ?token=T into a cookie (then redirects to /, so the token leaves the address bar).
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	secureHeaders(w)
	if t := r.URL.Query().Get("token"); t != "" {
		if !s.validToken(t) {
			w.WriteHeader(http.StatusUnauthorized)
			writeLogin(w, "That token is not right: copy it from the URL `svclab up` printed.")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: t, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if s.authMethod(r) == "" {
		w.WriteHeader(http.StatusUnauthorized)
		writeLogin(w, "")
		return
	}
	serveIndex(w)
}

func secureHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}
