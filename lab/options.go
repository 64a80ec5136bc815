package lab

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"

	utilnet "k8s.io/apimachinery/pkg/util/net"

	"github.com/svclab/svclab/lab/network"
)

// DefaultName is the lab `svclab up` makes without --name.
const DefaultName = network.DefaultLab

// Options configures a lab.
type Options struct {
	Name  string
	Nodes int
	// Runtime is auto, containerd or process.
	Runtime string
	// ProxyMode is kube-proxy's mode: iptables, nftables, ipvs or userspace.
	ProxyMode string
	// Cloud is "lab" (the built-in cloud gives LoadBalancer Services an address from
	// LBCIDR) or "none" (EXTERNAL-IP stays <pending>).
	Cloud         string
	NodeCIDR      string
	PodCIDR       string
	ServiceCIDR   string
	NodePortRange string
	LBCIDR        string
	// APIPort is the API server's port on 127.0.0.1 and the gateway (0: 6443, or a free
	// port when 6443 is taken).
	APIPort int
	// Binary is the svclab binary the built-in image is made of (default: this program).
	Binary string
	Log    *slog.Logger
	// Out receives the progress a person reads.
	Out io.Writer
}

// DefaultOptions returns `svclab up`'s defaults.
func DefaultOptions() Options {
	p := network.DefaultPlan(DefaultName)
	return Options{
		Name: DefaultName, Nodes: 3, Runtime: "auto", ProxyMode: "iptables", Cloud: "lab",
		NodeCIDR: p.NodeCIDR.String(), PodCIDR: p.PodCIDR.String(), ServiceCIDR: p.ServiceCIDR.String(),
		LBCIDR: p.LBCIDR.String(), NodePortRange: "30000-32767",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard,
	}
}

// plan turns the range flags into a network plan, naming the flag of any bad value.
func (o Options) plan() (network.Plan, utilnet.PortRange, error) {
	p := network.DefaultPlan(o.Name)
	var err error
	parse := func(flag, v string, dst *netip.Prefix) {
		if err != nil || v == "" {
			return
		}
		pr, perr := netip.ParsePrefix(v)
		if perr != nil {
			err = fmt.Errorf("%s %q: not a CIDR: %w", flag, v, perr)
			return
		}
		*dst = pr.Masked()
	}
	parse(network.FlagNodeCIDR, o.NodeCIDR, &p.NodeCIDR)
	parse(network.FlagPodCIDR, o.PodCIDR, &p.PodCIDR)
	parse(network.FlagServiceCIDR, o.ServiceCIDR, &p.ServiceCIDR)
	parse(network.FlagLBCIDR, o.LBCIDR, &p.LBCIDR)
	if err != nil {
		return p, utilnet.PortRange{}, err
	}
	if err := p.Validate(); err != nil {
		return p, utilnet.PortRange{}, err
	}
	if o.Nodes < 1 || o.Nodes > p.MaxNodes() {
		return p, utilnet.PortRange{}, fmt.Errorf("--nodes %d: choose 1 to %d", o.Nodes, p.MaxNodes())
	}
	switch o.Runtime {
	case "auto", "containerd", "process":
	default:
		return p, utilnet.PortRange{}, fmt.Errorf("--runtime %q: choose auto, containerd or process", o.Runtime)
	}
	if o.Cloud != "lab" && o.Cloud != "none" {
		return p, utilnet.PortRange{}, fmt.Errorf("--cloud %q: choose lab or none", o.Cloud)
	}
	if err := checkProxyMode(o.ProxyMode); err != nil {
		return p, utilnet.PortRange{}, err
	}
	pr, perr := utilnet.ParsePortRange(o.NodePortRange)
	if perr != nil {
		return p, utilnet.PortRange{}, fmt.Errorf("--service-node-port-range %q: %w", o.NodePortRange, perr)
	}
	return p, *pr, nil
}

// NodeName is the name of node i, as kind names them: <lab>-control-plane, <lab>-worker,
// <lab>-worker2, ...
func NodeName(lab string, i int) string {
	switch i {
	case 0:
		return lab + "-control-plane"
	case 1:
		return lab + "-worker"
	}
	return fmt.Sprintf("%s-worker%d", lab, i)
}

// checkProxyMode refuses an unknown mode, or a mode this kernel cannot run, before up
// changes anything.
func checkProxyMode(mode string) error {
	check, ok := proxyModeChecks[mode]
	if !ok {
		return fmt.Errorf("--proxy-mode %q: choose iptables, nftables, ipvs or userspace", mode)
	}
	if check != nil {
		if err := check(); err != nil {
			return fmt.Errorf("--proxy-mode %s: %w", mode, err)
		}
	}
	return nil
}
