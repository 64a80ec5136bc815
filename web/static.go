package web

import (
	"embed"
	"html/template"
	"io"
	"io/fs"
	"net/http"
)

// static holds the UI: plain HTML, CSS and JavaScript (no build step) and the vendored
// xterm.js.
//
//go:embed static
var static embed.FS

var loginPage = template.Must(template.ParseFS(static, "static/login.html"))

func staticHandler() http.Handler {
	sub, _ := fs.Sub(static, "static")
	return http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
}

func serveIndex(w http.ResponseWriter) {
	f, err := static.Open("static/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.Copy(w, f)
}

func writeLogin(w http.ResponseWriter, message string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginPage.Execute(w, struct{ Message string }{message})
}
