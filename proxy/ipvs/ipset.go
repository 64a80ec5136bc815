package ipvs

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// The ipsets upstream's ipvs proxier keeps, with its names and comments (pkg/proxy/ipvs
// ipset.go). The comments reappear in the iptables rules that match the sets.
const (
	SetLoopBack            = "KUBE-LOOP-BACK"
	SetClusterIP           = "KUBE-CLUSTER-IP"
	SetExternalIP          = "KUBE-EXTERNAL-IP"
	SetExternalIPLocal     = "KUBE-EXTERNAL-IP-LOCAL"
	SetLoadBalancer        = "KUBE-LOAD-BALANCER"
	SetLoadBalancerFW      = "KUBE-LOAD-BALANCER-FW"
	SetLoadBalancerLocal   = "KUBE-LOAD-BALANCER-LOCAL"
	SetLoadBalancerSrcIP   = "KUBE-LOAD-BALANCER-SOURCE-IP"
	SetLoadBalancerSrcCIDR = "KUBE-LOAD-BALANCER-SOURCE-CIDR"
	SetNodePortTCP         = "KUBE-NODE-PORT-TCP"
	SetNodePortLocalTCP    = "KUBE-NODE-PORT-LOCAL-TCP"
	SetNodePortUDP         = "KUBE-NODE-PORT-UDP"
	SetNodePortLocalUDP    = "KUBE-NODE-PORT-LOCAL-UDP"
	SetHealthCheckNodePort = "KUBE-HEALTH-CHECK-NODE-PORT"
	SetIPVSIPs             = "KUBE-IPVS-IPS"
)

// setInfo is one ipset: name, type and upstream's comment.
type setInfo struct {
	name, setType, comment string
}

// ipsets lists every set in upstream's order (ipsetInfo).
var ipsets = []setInfo{
	{SetLoopBack, "hash:ip,port,ip", "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose"},
	{SetClusterIP, "hash:ip,port", "Kubernetes service cluster ip + port for masquerade purpose"},
	{SetExternalIP, "hash:ip,port", "Kubernetes service external ip + port for masquerade and filter purpose"},
	{SetExternalIPLocal, "hash:ip,port", "Kubernetes service external ip + port with externalTrafficPolicy=local"},
	{SetLoadBalancer, "hash:ip,port", "Kubernetes service lb portal"},
	{SetLoadBalancerFW, "hash:ip,port", "Kubernetes service load balancer ip + port for load balancer with sourceRange"},
	{SetLoadBalancerLocal, "hash:ip,port", "Kubernetes service load balancer ip + port with externalTrafficPolicy=local"},
	{SetLoadBalancerSrcIP, "hash:ip,port,ip", "Kubernetes service load balancer ip + port + source IP for packet filter purpose"},
	{SetLoadBalancerSrcCIDR, "hash:ip,port,net", "Kubernetes service load balancer ip + port + source cidr for packet filter purpose"},
	{SetNodePortTCP, "bitmap:port", "Kubernetes nodeport TCP port for masquerade purpose"},
	{SetNodePortLocalTCP, "bitmap:port", "Kubernetes nodeport TCP port with externalTrafficPolicy=local"},
	{SetNodePortUDP, "bitmap:port", "Kubernetes nodeport UDP port for masquerade purpose"},
	{SetNodePortLocalUDP, "bitmap:port", "Kubernetes nodeport UDP port with externalTrafficPolicy=local"},
	{SetHealthCheckNodePort, "bitmap:port", "Kubernetes health check node port"},
	{SetIPVSIPs, "hash:ip", "Addresses on the ipvs interface"},
}

func setComment(name string) string {
	for _, s := range ipsets {
		if s.name == name {
			return s.comment
		}
	}
	return ""
}

// createLine is the `ipset restore` line that creates set s (upstream's CreateSet options).
func createLine(s setInfo) string {
	if strings.HasPrefix(s.setType, "bitmap:") {
		return fmt.Sprintf("create %s %s range 0-65535", s.name, s.setType)
	}
	return fmt.Sprintf("create %s %s family inet hashsize 1024 maxelem 65536", s.name, s.setType)
}

// Sets holds ipset members by set name (entries in `ipset save` form, e.g.
// "172.30.0.41,tcp:80").
type Sets map[string][]string

// Has reports whether set name holds entry.
func (s Sets) Has(name, entry string) bool { return slices.Contains(s[name], entry) }

// ParseIPSetSave reads `ipset save` output into Sets (only the KUBE- sets this mode owns;
// a created but empty set is present with no entries).
func ParseIPSetSave(data []byte) Sets {
	out := Sets{}
	owned := map[string]bool{}
	for _, s := range ipsets {
		owned[s.name] = true
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !owned[f[1]] {
			continue
		}
		switch f[0] {
		case "create":
			if _, ok := out[f[1]]; !ok {
				out[f[1]] = nil
			}
		case "add":
			if len(f) >= 3 {
				out[f[1]] = append(out[f[1]], f[2])
			}
		}
	}
	for name := range out {
		slices.Sort(out[name])
	}
	return out
}

// renderIPSetRestore returns the `ipset restore -exist` payload that turns current into
// desired: every set created, missing entries added, stale ones deleted.
func renderIPSetRestore(current, desired Sets) []byte {
	var b bytes.Buffer
	for _, s := range ipsets {
		if _, ok := current[s.name]; !ok {
			b.WriteString(createLine(s) + "\n")
		}
	}
	for _, s := range ipsets {
		want := desired[s.name]
		have := current[s.name]
		for _, e := range have {
			if !slices.Contains(want, e) {
				fmt.Fprintf(&b, "del %s %s\n", s.name, e)
			}
		}
		for _, e := range want {
			if !slices.Contains(have, e) {
				fmt.Fprintf(&b, "add %s %s\n", s.name, e)
			}
		}
	}
	return b.Bytes()
}

// IPSetExec runs the host's ipset tool.
type IPSetExec struct {
	// Prefix is prepended to every command (e.g. `ip netns exec NAME` in tests).
	Prefix []string
}

var _ IPSet = (*IPSetExec)(nil)

func (x *IPSetExec) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	full := append(append([]string{}, x.Prefix...), args...)
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()+stdout.String()))
	}
	return stdout.Bytes(), nil
}

// Restore implements IPSet.
func (x *IPSetExec) Restore(ctx context.Context, data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	_, err := x.run(ctx, data, "ipset", "restore", "-exist")
	return err
}

// Save implements IPSet.
func (x *IPSetExec) Save(ctx context.Context) ([]byte, error) {
	return x.run(ctx, nil, "ipset", "save")
}
