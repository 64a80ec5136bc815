package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svclab/svclab/exercises"
	"github.com/svclab/svclab/lab"
	"github.com/svclab/svclab/lab/privtest"
)

// Test address plan: the lab gets its own name (svw<r>) and the ranges 172.31.<r>.0/24
// (nodes), 10.<200+r%50>.0.0/16 (pods), 10.<150+r%50>.0.0/16 (services), as the lab
// package's tests do, so a learner's lab on the defaults is never touched.

// TestPrivilegedWebUI serves the UI of a real two-node lab: the topology shows the nodes
// and a pod created for the test, the rules endpoint prints iptables-save, the tracer
// answers JSON, and a terminal runs `ip -br addr` in a node.
func TestPrivilegedWebUI(t *testing.T) {
	privtest.Require(t, "ip", "iptables-save")
	bin := privtest.Binary(t)
	r := rand.IntN(200) + 20
	opts := lab.DefaultOptions()
	opts.Name = fmt.Sprintf("svw%d", r)
	opts.Nodes = 2
	opts.Runtime = "process"
	opts.NodeCIDR = fmt.Sprintf("172.31.%d.0/24", r)
	opts.PodCIDR = fmt.Sprintf("10.%d.0.0/16", 200+r%50)
	opts.ServiceCIDR = fmt.Sprintf("10.%d.0.0/16", 150+r%50)
	opts.LBCIDR = fmt.Sprintf("172.31.%d.0/24", (r+100)%250)
	opts.Binary = bin
	opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		opts.Out = os.Stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	l, err := lab.Up(ctx, opts)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	t.Cleanup(func() { _ = l.Shutdown(context.Background()) })

	srv, err := New(Options{Lab: opts.Name, LabDir: l.Paths().Dir, Kubeconfig: l.Paths().Kubeconfig(),
		Client: l.Client(), Catalog: &exercises.Catalog{}, Binary: bin, Log: opts.Log})
	if err != nil {
		t.Fatal(err)
	}
	srvCtx, stop := context.WithCancel(ctx)
	defer stop()
	srv.Start(srvCtx)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	get := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+srv.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
		}
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}

	worker := lab.NodeName(opts.Name, 1)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "webui-probe"},
		Spec: corev1.PodSpec{NodeName: worker, Containers: []corev1.Container{{Name: "agent", Image: "svclab.local/agent:v1"}}}}
	if _, err := l.Client().CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var topo Topology
	var probe *TopoPod
	for deadline := time.Now().Add(90 * time.Second); probe == nil; {
		if time.Now().After(deadline) {
			t.Fatalf("the topology never showed pod webui-probe ready with an IP: %+v", topo.Pods)
		}
		time.Sleep(300 * time.Millisecond)
		get("/api/topology", &topo)
		for i, p := range topo.Pods {
			if p.Name == "webui-probe" && p.Ready && p.IP != "" {
				probe = &topo.Pods[i]
			}
		}
	}
	if len(topo.Nodes) != 2 || topo.Nodes[0].Name != lab.NodeName(opts.Name, 0) || !topo.Nodes[1].Ready || len(topo.Nodes[1].IPs) == 0 {
		t.Errorf("nodes %+v: want the 2 lab nodes, Ready, with IPs", topo.Nodes)
	}
	var kubernetesIP string
	for _, s := range topo.Services {
		if s.Namespace == "default" && s.Name == "kubernetes" {
			kubernetesIP = s.ClusterIP
			if len(s.Endpoints) == 0 {
				t.Errorf("service kubernetes has no endpoints in the topology: %+v", s)
			}
		}
	}

	var rules nodeRules
	get("/api/nodes/"+worker+"/rules", &rules)
	if rules.Command != "iptables-save" || !strings.Contains(rules.Text, "KUBE-SERVICES") {
		t.Errorf("rules of %s: command %q, text:\n%s", worker, rules.Command, rules.Text)
	}

	var res struct {
		Verdict string
		Steps   []struct{ Where, Rule, Note string }
	}
	get(fmt.Sprintf("/api/trace?node=%s&from=%s&to=%s:443/tcp", worker, probe.IP, kubernetesIP), &res)
	if res.Verdict != "forwarded" || len(res.Steps) == 0 {
		t.Errorf("trace %s -> %s:443: %+v, want forwarded with steps", probe.IP, kubernetesIP, res)
	}

	wsURL := "ws" + strings.TrimPrefix(ts.URL, "http") + "/api/terminal?node=" + worker
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, http.Header{"Origin": {ts.URL}, "Authorization": {"Bearer " + srv.Token()}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteJSON(TerminalMessage{Type: "input", Data: "ip -br addr; echo do$((4+1))ne\n"}); err != nil {
		t.Fatal(err)
	}
	out := readUntil(t, conn, "do5ne")
	if !strings.Contains(out, topo.Nodes[1].IPs[0]) {
		t.Errorf("`ip -br addr` in %s does not show its IP %s:\n%s", worker, topo.Nodes[1].IPs[0], out)
	}
}
