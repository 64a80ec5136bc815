package podagent

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MaxSleep caps /sleep so a typo cannot hold a connection for hours.
const MaxSleep = 10 * time.Minute

// maxEchoBody caps how much of a request body /echo reads back.
const maxEchoBody = 1 << 20

// Reply is the JSON form of the identity answer.
type Reply struct {
	Identity
	Client  string              `json:"client"`
	Host    string              `json:"host"`
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Headers map[string][]string `json:"headers"`
}

// EchoReply is the JSON form of /echo.
type EchoReply struct {
	Reply
	Proto string `json:"proto"`
	Query string `json:"query,omitempty"`
	Body  string `json:"body"`
}

// NewHandler returns the agent's HTTP API for id and state:
//
//	GET  /                 identity line (JSON with Accept: application/json); any unknown path too
//	GET  /json             identity as JSON
//	GET  /healthz          liveness: 200 ok, or 500 after POST /fail-liveness or while the fail file exists
//	GET  /readyz           readiness: 200 ready, or 503 when switched off or shutting down
//	POST /ready?value=B    switch readiness on (true) or off (false)
//	POST /fail-liveness    make /healthz fail (?value=false makes it pass again)
//	ANY  /echo             request line, headers and body echoed back
//	GET  /sleep?d=1s       answer after the duration (at most MaxSleep)
//	ANY  /status/CODE      answer with that status code
func NewHandler(id Identity, state *State) http.Handler {
	h := &handler{id: id, state: state}
	mux := http.NewServeMux()
	mux.HandleFunc("/", h.identity)
	mux.HandleFunc("/json", h.identityJSON)
	mux.HandleFunc("/healthz", h.healthz)
	mux.HandleFunc("/livez", h.healthz)
	mux.HandleFunc("/readyz", h.readyz)
	mux.HandleFunc("/ready", h.setReady)
	mux.HandleFunc("/fail-liveness", h.failLiveness)
	mux.HandleFunc("/echo", h.echo)
	mux.HandleFunc("/echo/", h.echo)
	mux.HandleFunc("/sleep", h.sleep)
	mux.HandleFunc("/status/{code}", h.status)
	return mux
}

type handler struct {
	id    Identity
	state *State
}

// Line renders the identity line every protocol answers with (no trailing newline).
func (id Identity) Line(client string) string {
	return fmt.Sprintf("pod=%s ns=%s ip=%s node=%s version=%s client=%s",
		id.PodName, id.Namespace, id.PodIP, id.NodeName, id.Version, client)
}

func (h *handler) reply(r *http.Request) Reply {
	return Reply{
		Identity: h.id,
		Client:   r.RemoteAddr,
		Host:     r.Host,
		Method:   r.Method,
		Path:     r.URL.Path,
		Headers:  r.Header,
	}
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func (h *handler) identity(w http.ResponseWriter, r *http.Request) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, h.reply(r))
		return
	}
	writeText(w, http.StatusOK, fmt.Sprintf("%s host=%s path=%s\n", h.id.Line(r.RemoteAddr), r.Host, r.URL.Path))
}

func (h *handler) identityJSON(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.reply(r))
}

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	if !h.state.Alive() {
		writeText(w, http.StatusInternalServerError, "liveness failed\n")
		return
	}
	writeText(w, http.StatusOK, "ok\n")
}

func (h *handler) readyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case h.state.Terminating():
		writeText(w, http.StatusServiceUnavailable, "shutting down\n")
	case !h.state.Ready():
		writeText(w, http.StatusServiceUnavailable, "not ready\n")
	default:
		writeText(w, http.StatusOK, "ready\n")
	}
}

// boolParam reads ?value= (default def); ok is false when it is not a boolean.
func boolParam(r *http.Request, def bool) (v bool, ok bool) {
	s := r.URL.Query().Get("value")
	if s == "" {
		return def, true
	}
	b, err := strconv.ParseBool(s)
	return b, err == nil
}

func (h *handler) setReady(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		writeText(w, http.StatusMethodNotAllowed, "use POST /ready?value=true|false\n")
		return
	}
	v, ok := boolParam(r, true)
	if !ok {
		writeText(w, http.StatusBadRequest, "value must be true or false\n")
		return
	}
	h.state.SetReady(v)
	writeText(w, http.StatusOK, fmt.Sprintf("ready=%t\n", v))
}

func (h *handler) failLiveness(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		writeText(w, http.StatusMethodNotAllowed, "use POST /fail-liveness\n")
		return
	}
	v, ok := boolParam(r, true)
	if !ok {
		writeText(w, http.StatusBadRequest, "value must be true or false\n")
		return
	}
	h.state.SetLivenessFailed(v)
	writeText(w, http.StatusOK, fmt.Sprintf("liveness-failing=%t\n", v))
}

func (h *handler) echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxEchoBody))
	if err != nil {
		writeText(w, http.StatusBadRequest, fmt.Sprintf("read body: %v\n", err))
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, EchoReply{Reply: h.reply(r), Proto: r.Proto, Query: r.URL.RawQuery, Body: string(body)})
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", h.id.Line(r.RemoteAddr))
	fmt.Fprintf(&b, "%s %s %s\n", r.Method, r.URL.RequestURI(), r.Proto)
	fmt.Fprintf(&b, "Host: %s\n", r.Host)
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range r.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	b.Write(body)
	writeText(w, http.StatusOK, b.String())
}

func (h *handler) sleep(w http.ResponseWriter, r *http.Request) {
	d := time.Second
	if s := r.URL.Query().Get("d"); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 {
			writeText(w, http.StatusBadRequest, fmt.Sprintf("d=%q: want a duration like 500ms or 2s\n", s))
			return
		}
		d = v
	}
	if d > MaxSleep {
		d = MaxSleep
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		writeText(w, http.StatusOK, fmt.Sprintf("%s slept=%s\n", h.id.Line(r.RemoteAddr), d))
	case <-r.Context().Done():
	}
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.PathValue("code"))
	if err != nil || code < 200 || code > 599 {
		writeText(w, http.StatusBadRequest, "status code must be 200-599\n")
		return
	}
	writeText(w, code, fmt.Sprintf("%d %s\n%s\n", code, http.StatusText(code), h.id.Line(r.RemoteAddr)))
}

func writeText(w http.ResponseWriter, code int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(s)))
	w.WriteHeader(code)
	_, _ = io.WriteString(w, s)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeText(w, http.StatusInternalServerError, fmt.Sprintf("encode: %v\n", err))
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
