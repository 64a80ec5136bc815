package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	labnet "github.com/svclab/svclab/lab/network"
)

// Addresses of the bench topology, on proxytest's plan:
//
//	pod netns   eth0 10.180.0.1/24, default via 10.180.0.254
//	node netns  veth0 10.180.0.254/24 and 192.168.0.2/24 (node1's IP: NodePorts, the
//	            userspace proxy's host portals); 172.30.0.0/16 routed to veth0 with
//	            source 10.180.0.254, so ClusterIP and direct traffic leave from the same
//	            address and only the Service translation differs.
const (
	podAddr      = "10.180.0.1"
	nodePodSide  = "10.180.0.254"
	nodeAddr     = "192.168.0.2"
	serviceRange = "172.30.0.0/16"
)

// netNS is a pair of throwaway namespaces: node (the proxy's rules and the client) and
// pod (an HTTP server on podAddr), joined by a veth pair.
type netNS struct {
	node, pod         string // names under /run/netns
	nodePath, podPath string
}

// newNetNS creates the topology. owner.Cleanup deletes both namespaces (and with them the
// veth pair and every rule, set, route and socket the proxy put there), even when the
// benchmark fails; owner may be a parent benchmark, so newNetNS reports errors instead of
// failing it from another goroutine.
func newNetNS(owner testing.TB) (*netNS, error) {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	base := "svclabt-bench-" + hex.EncodeToString(suffix)
	n := &netNS{node: base + "n", pod: base + "p"}
	n.nodePath = filepath.Join(labnet.NetNSDir, n.node)
	n.podPath = filepath.Join(labnet.NetNSDir, n.pod)
	for _, ns := range []string{n.node, n.pod} {
		if err := run("ip", "netns", "add", ns); err != nil {
			return nil, err
		}
		owner.Cleanup(func() {
			if err := run("ip", "netns", "del", ns); err != nil {
				owner.Error(err)
			}
		})
	}
	for _, cmd := range [][]string{
		{"ip", "-n", n.node, "link", "add", "veth0", "type", "veth", "peer", "name", "eth0", "netns", n.pod},
		{"ip", "-n", n.node, "link", "set", "lo", "up"},
		{"ip", "-n", n.node, "addr", "add", nodePodSide + "/24", "dev", "veth0"},
		{"ip", "-n", n.node, "addr", "add", nodeAddr + "/24", "dev", "veth0"},
		{"ip", "-n", n.node, "link", "set", "veth0", "up"},
		// The ClusterIP needs a route for the first routing decision, before DNAT.
		{"ip", "-n", n.node, "route", "add", serviceRange, "dev", "veth0", "src", nodePodSide},
		{"ip", "-n", n.pod, "link", "set", "lo", "up"},
		{"ip", "-n", n.pod, "addr", "add", podAddr + "/24", "dev", "eth0"},
		{"ip", "-n", n.pod, "link", "set", "eth0", "up"},
		{"ip", "-n", n.pod, "route", "add", "default", "via", nodePodSide},
	} {
		if err := run(cmd...); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func run(args ...string) error {
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// nsNet opens sockets inside one namespace; it is the userspace proxy's Listener and
// Dialer.
type nsNet struct{ path string }

func (n nsNet) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	return labnet.ListenInNamespace(ctx, n.path, network, address)
}

func (n nsNet) ListenPacket(ctx context.Context, network, address string) (pc net.PacketConn, err error) {
	err = labnet.RunInNamespace(n.path, func() error {
		pc, err = (&net.ListenConfig{}).ListenPacket(ctx, network, address)
		return err
	})
	return pc, err
}

func (n nsNet) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return labnet.DialInNamespace(ctx, n.path, network, address)
}
