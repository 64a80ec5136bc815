package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestNodeRulesIPTables(t *testing.T) {
	env := newTestEnv(t)
	env.runner.Errors = map[string]error{"lab-worker nft list table ip kube-proxy": errors.New("no such table")}
	env.runner.Outputs = map[string]string{"lab-worker iptables-save": "*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n"}
	w := env.do("GET", "/api/nodes/lab-worker/rules", true)
	wantStatus(t, w, http.StatusOK)
	var got nodeRules
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Command != "iptables-save" || !strings.Contains(got.Text, ":KUBE-SERVICES") {
		t.Errorf("rules %+v", got)
	}
	want := []string{"lab-worker nft list table ip kube-proxy", "lab-worker iptables-save"}
	if !slices.Equal(env.runner.Commands(), want) {
		t.Errorf("commands %q, want %q", env.runner.Commands(), want)
	}
}

func TestNodeRulesNFTables(t *testing.T) {
	env := newTestEnv(t)
	env.runner.Outputs = map[string]string{"lab-worker nft list table ip kube-proxy": "table ip kube-proxy {\n}\n"}
	w := env.do("GET", "/api/nodes/lab-worker/rules", true)
	wantStatus(t, w, http.StatusOK)
	if !strings.Contains(w.Body.String(), `"command":"nft list table ip kube-proxy"`) {
		t.Errorf("body %s", w.Body.String())
	}
	wantStatus(t, env.do("GET", "/api/nodes/..%2Fetc/rules", true), http.StatusBadRequest)
}

func TestTraceRunsTheTracerInTheNode(t *testing.T) {
	env := newTestEnv(t)
	key := "lab-worker /bin/svclab trace --here --output json --from 10.244.1.5 --to 10.96.0.10:53/udp"
	env.runner.Outputs = map[string]string{key: `{"Verdict":"forwarded","Steps":[]}`}
	w := env.do("GET", "/api/trace?node=lab-worker&from=10.244.1.5&to=10.96.0.10:53/udp", true)
	wantStatus(t, w, http.StatusOK)
	if !strings.Contains(w.Body.String(), `"Verdict":"forwarded"`) {
		t.Errorf("body %s", w.Body.String())
	}
	wantStatus(t, env.do("GET", "/api/trace?node=lab-worker&from=10.244.1.5", true), http.StatusBadRequest)
	env.runner.Errors = map[string]error{key: errors.New("trace: bad address")}
	w = env.do("GET", "/api/trace?node=lab-worker&from=10.244.1.5&to=10.96.0.10:53/udp", true)
	wantStatus(t, w, http.StatusBadRequest)
	if !strings.Contains(w.Body.String(), "bad address") {
		t.Errorf("the tracer's error reaches the user; body %s", w.Body.String())
	}
}
