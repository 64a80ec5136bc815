package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	labnet "github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/lab/privtest"
	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/ipt"
	"github.com/svclab/svclab/proxy/iptables"
	"github.com/svclab/svclab/proxy/ipvs"
	"github.com/svclab/svclab/proxy/nftables"
	pt "github.com/svclab/svclab/proxy/proxytest"
	"github.com/svclab/svclab/proxy/userspace"
)

// mode is one kube-proxy mode as the benchmarks drive it.
type mode struct {
	name  string
	tools []string
	// kernelCheck, if set, says why this machine cannot run the mode.
	kernelCheck func() error
	// start returns a Proxier programming ns's node namespace. Its Sync and Cleanup may be
	// called from any goroutine. Resources beyond the namespace are released through
	// owner.Cleanup.
	start func(owner testing.TB, ns *netNS) (proxy.Proxier, error)
}

// modes in report order: iptables first, as the baseline of the others.
var modes = []mode{
	{name: "iptables", tools: []string{"ip", "iptables", "iptables-restore", "iptables-save"}, start: startIPTables},
	{name: "iptables-legacy", tools: []string{"ip", "env", "iptables-legacy", "iptables-legacy-restore", "iptables-legacy-save"}, kernelCheck: checkLegacy, start: startIPTablesLegacy},
	{name: "nftables", tools: []string{"ip", "nft"}, start: startNFTables},
	{name: "userspace", tools: []string{"ip", "iptables", "iptables-restore", "iptables-save"}, start: startUserspace},
	{name: "ipvs", tools: []string{"ip", "ipset", "iptables", "iptables-restore", "iptables-save"}, kernelCheck: ipvs.CheckKernel, start: startIPVS},
}

// require skips b with a reason unless this machine can run m.
func (m mode) require(b *testing.B) {
	b.Helper()
	privtest.Require(b, m.tools...)
	if m.kernelCheck != nil {
		if err := m.kernelCheck(); err != nil {
			b.Skipf("%s mode: %v", m.name, err)
		}
	}
}

// nsExec runs the iptables tools in the node namespace through `ip netns exec`.
func nsExec(ns *netNS) *ipt.Exec {
	return &ipt.Exec{Prefix: []string{"ip", "netns", "exec", ns.node}}
}

func startIPTables(_ testing.TB, ns *netNS) (proxy.Proxier, error) {
	return iptables.New(pt.Config(), nsExec(ns), nil)
}

// startIPTablesLegacy is the iptables mode on the legacy (x_tables) backend, for hosts
// whose iptables is the nf_tables one: `ip netns exec NS env PATH=DIR:$PATH`, with DIR
// holding iptables, iptables-save and iptables-restore links to the -legacy tools (which
// pick their function from the name they are run as, like Debian's alternatives).
func startIPTablesLegacy(owner testing.TB, ns *netNS) (proxy.Proxier, error) {
	dir := owner.TempDir()
	for _, tool := range []string{"iptables", "iptables-save", "iptables-restore"} {
		target, err := exec.LookPath(tool + "-legacy")
		if tool != "iptables" {
			target, err = exec.LookPath(strings.Replace(tool, "-", "-legacy-", 1))
		}
		if err != nil {
			return nil, err
		}
		if err := os.Symlink(target, filepath.Join(dir, tool)); err != nil {
			return nil, err
		}
	}
	x := nsExec(ns)
	x.Prefix = append(x.Prefix, "env", "PATH="+dir+":"+os.Getenv("PATH"))
	return iptables.New(pt.Config(), x, nil)
}

// checkLegacy skips the legacy row where the host's iptables already is the legacy one
// (the iptables row measured it).
func checkLegacy() error {
	out, err := exec.Command("iptables", "--version").Output()
	if err != nil {
		return err
	}
	if !strings.Contains(string(out), "nf_tables") {
		return fmt.Errorf("the host's iptables is already the legacy backend (%s): the iptables row is this one", strings.TrimSpace(string(out)))
	}
	return nil
}

func startUserspace(owner testing.TB, ns *netNS) (proxy.Proxier, error) {
	node := nsNet{ns.nodePath}
	p, err := userspace.New(pt.Config(), nsExec(ns), userspace.Options{Listener: node, Dialer: node}, nil)
	if err != nil {
		return nil, err
	}
	owner.Cleanup(p.Close) // before the namespace goes: cleanups run last-in first-out
	return p, nil
}

// startNFTables creates the Proxier on a thread in the node namespace: knftables runs nft
// as a child process, which starts in the namespace of the thread that forks it.
func startNFTables(_ testing.TB, ns *netNS) (proxy.Proxier, error) {
	var p *nftables.Proxier
	err := labnet.RunInNamespace(ns.nodePath, func() (err error) {
		p, err = nftables.NewKernel(pt.Config(), nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return inNamespace{p, ns.nodePath}, nil
}

// startIPVS creates the Proxier in the node namespace: its netlink sockets, sysctls, ipset
// and iptables calls all belong to the namespace of the calling thread.
func startIPVS(_ testing.TB, ns *netNS) (proxy.Proxier, error) {
	var p *ipvs.Proxier
	err := labnet.RunInNamespace(ns.nodePath, func() (err error) {
		p, err = ipvs.NewKernel(pt.Config(), ipvs.Options{}, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return inNamespace{p, ns.nodePath}, nil
}

// inNamespace runs a Proxier's calls on a thread switched into a namespace (a few
// microseconds per call, well below what a sync costs).
type inNamespace struct {
	p    proxy.Proxier
	path string
}

func (n inNamespace) Sync(ctx context.Context, st *proxy.State) error {
	return labnet.RunInNamespace(n.path, func() error { return n.p.Sync(ctx, st) })
}

func (n inNamespace) Cleanup(ctx context.Context) error {
	return labnet.RunInNamespace(n.path, func() error { return n.p.Cleanup(ctx) })
}
