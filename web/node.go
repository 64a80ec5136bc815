package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/svclab/svclab/lab/network"
)

// Runner runs a command inside a node's network namespace and returns its standard
// output; a failed command's error carries its standard error.
type Runner interface {
	Run(ctx context.Context, node string, name string, args ...string) ([]byte, error)
}

// NetNSRunner runs commands in a lab node with `ip netns exec svclab-<lab>-<node>`.
type NetNSRunner struct {
	Lab string
}

// Run runs name with args in the node's namespace.
func (n NetNSRunner) Run(ctx context.Context, node string, name string, args ...string) ([]byte, error) {
	ns, err := nodeNetNS(n.Lab, node)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s in node %s: %w: %s", name, node, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

var nodeNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// nodeNetNS names a node's namespace, refusing names that are not node names and nodes
// without a namespace.
func nodeNetNS(lab, node string) (string, error) {
	if !nodeNameRE.MatchString(node) || len(node) > 63 {
		return "", fmt.Errorf("%q is not a node name", node)
	}
	ns := network.NodeNetNS(lab, node)
	if _, err := os.Stat(filepath.Join(network.NetNSDir, ns)); err != nil {
		return "", fmt.Errorf("node %q of lab %q not found (no network namespace %s)", node, lab, ns)
	}
	return ns, nil
}

// nodeRules is GET /api/nodes/{node}/rules.
type nodeRules struct {
	Node string `json:"node"`
	// Command is what printed Text: `nft list table ip kube-proxy` when kube-proxy runs
	// in nftables mode, `iptables-save` otherwise (iptables, ipvs and userspace modes all
	// keep iptables rules).
	Command string `json:"command"`
	Text    string `json:"text"`
}

func (s *Server) nodeRules(w http.ResponseWriter, r *http.Request) {
	node := r.PathValue("node")
	if !nodeNameRE.MatchString(node) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a node name", node))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	// The nftables mode's table exists only while kube-proxy runs in that mode (each mode
	// removes the others' rules when it starts).
	if out, err := s.opts.Runner.Run(ctx, node, "nft", "list", "table", "ip", "kube-proxy"); err == nil && len(bytes.TrimSpace(out)) > 0 {
		writeJSON(w, http.StatusOK, nodeRules{Node: node, Command: "nft list table ip kube-proxy", Text: string(out)})
		return
	}
	out, err := s.opts.Runner.Run(ctx, node, "iptables-save")
	if err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, nodeRules{Node: node, Command: "iptables-save", Text: string(out)})
}

// trace is GET /api/trace?node=&from=&to=: the packet tracer run in the node (the svclab
// binary re-run there, as `svclab trace` does), answering its JSON result.
func (s *Server) trace(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	node, from, to := q.Get("node"), strings.TrimSpace(q.Get("from")), strings.TrimSpace(q.Get("to"))
	if node == "" || from == "" || to == "" {
		writeError(w, http.StatusBadRequest, "node, from and to are required (from: IP[:PORT], to: IP:PORT[/tcp|udp])")
		return
	}
	if !nodeNameRE.MatchString(node) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a node name", node))
		return
	}
	args := []string{"trace", "--here", "--output", "json", "--from", from, "--to", to}
	if m := q.Get("mode"); m != "" {
		args = append(args, "--mode", m)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	out, err := s.opts.Runner.Run(ctx, node, s.opts.Binary, args...)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !json.Valid(out) {
		writeError(w, http.StatusBadGateway, "the tracer answered something that is not JSON: "+string(out))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}
