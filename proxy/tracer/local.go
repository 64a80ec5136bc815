package tracer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"time"

	mobyipvs "github.com/moby/ipvs"

	"github.com/svclab/svclab/proxy/ipvs"
	"github.com/svclab/svclab/proxy/userspace"
)

// Local reads the rules of the network namespace the process runs in (svclab trace
// re-runs itself inside the node's namespace).
type Local struct {
	// MetricsAddr is kube-proxy's metrics address (default 127.0.0.1:10249).
	MetricsAddr string
}

var _ Source = Local{}

func (l Local) get(ctx context.Context, path string) ([]byte, error) {
	addr := l.MetricsAddr
	if addr == "" {
		addr = "127.0.0.1:10249"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
}

// Mode implements Source through kube-proxy's /proxyMode.
func (l Local) Mode(ctx context.Context) (string, error) {
	b, err := l.get(ctx, "/proxyMode")
	return strings.TrimSpace(string(b)), err
}

func run(ctx context.Context, name string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// IPTablesSave implements Source.
func (Local) IPTablesSave(ctx context.Context) (string, error) { return run(ctx, "iptables-save") }

// NFTRuleset implements Source: kube-proxy's table only.
func (Local) NFTRuleset(ctx context.Context) (string, error) {
	return run(ctx, "nft", "list", "table", "ip", "kube-proxy")
}

// UserspaceTable implements Source through kube-proxy's /userspace.
func (l Local) UserspaceTable(ctx context.Context) (userspace.Table, error) {
	var t userspace.Table
	b, err := l.get(ctx, "/userspace")
	if err != nil {
		return t, fmt.Errorf("read the userspace proxy's table: %w", err)
	}
	return t, json.Unmarshal(b, &t)
}

// IPVSTable implements Source.
func (Local) IPVSTable(ctx context.Context) (*ipvs.Table, error) {
	if err := ipvs.CheckKernel(); err != nil {
		return nil, err
	}
	h, err := mobyipvs.New("")
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return ipvs.ReadTable(ctx, h, &ipvs.IPSetExec{})
}

// LocalAddrs implements Source: global-scope IPv4 addresses, eth0's first.
func (Local) LocalAddrs(ctx context.Context) ([]netip.Addr, error) {
	out, err := run(ctx, "ip", "-4", "-o", "addr", "show", "scope", "global")
	if err != nil {
		return nil, err
	}
	var first, rest []netip.Addr
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		p, err := netip.ParsePrefix(f[3])
		if err != nil {
			continue
		}
		if strings.HasPrefix(f[1], "eth0") {
			first = append(first, p.Addr())
		} else {
			rest = append(rest, p.Addr())
		}
	}
	return append(first, rest...), nil
}
