package network

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path/filepath"
	"sync"
)

// Node is a simulated node: a network namespace on the node network.
type Node struct {
	Name      string
	Index     int
	NetNS     string // svclab-<lab>-<name>
	NetNSPath string // /run/netns/svclab-<lab>-<name>
	IP        netip.Addr
	PodCIDR   netip.Prefix
	HostVeth  string // the host end of the node's veth, on the bridge

	net *Network
	dir string // IPAM state

	mu sync.Mutex // serialises IPAM
}

// Pod is a pod's network: its namespace and address.
type Pod struct {
	ID        string
	Node      string
	NetNS     string // svclab-<lab>-p-<id>
	NetNSPath string // /run/netns/svclab-<lab>-p-<id>
	IP        netip.Addr
	NodeVeth  string // the node end of the pod's veth (svl<id>), in the node namespace
}

func (n *Node) ipamPath() string { return filepath.Join(n.dir, "ipam.json") }

// podRoute is the host-gw route, in another node, to this node's pods.
func (n *Node) podRoute() Route {
	return Route{Dst: n.PodCIDR, Gw: n.IP, Dev: "eth0", Protocol: ProtoSvclab}
}

// hostRoute is the host's route to this node's pods.
func (n *Node) hostRoute() Route {
	return Route{Dst: n.PodCIDR, Gw: n.IP, Dev: n.net.plan.Bridge, Protocol: ProtoSvclab, Realm: labRealm(n.net.plan.Lab)}
}

func (n *Node) pod(id string, ip netip.Addr) Pod {
	ns := PodNetNS(n.net.plan.Lab, id)
	return Pod{ID: id, Node: n.Name, NetNS: ns, NetNSPath: filepath.Join(NetNSDir, ns), IP: ip, NodeVeth: podVethName(id)}
}

// AddPod gives pod id (1-12 lower case letters or digits, e.g. 10 hex characters of the pod
// UID) a network: namespace svclab-<lab>-p-<id>, an address from the node's pod /24 (recorded
// in the node's IPAM file; an id that already has one is refused with fs.ErrExist), and a routed point-to-point
// veth like the CNI ptp plugin and Calico: eth0 in the pod with the address as a /32 and a
// default route via PodGateway (onlink); in the node, svl<id> with proxy ARP (so it answers
// for PodGateway) and a /32 route to the pod. No bridge, so hairpin traffic (a pod reaching
// itself through its Service) just goes back down the same veth.
func (n *Node) AddPod(ctx context.Context, id string) (*Pod, error) {
	if err := validatePodID(id); err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	s, err := loadIPAM(n.ipamPath(), n.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("add pod %s on %s: %w", id, n.Name, err)
	}
	if _, ok := s.Pods[id]; ok {
		return nil, fmt.Errorf("add pod %s on %s: it already has a network (remove it first): %w", id, n.Name, fs.ErrExist)
	}
	ip, err := s.allocate(id)
	if err == nil {
		err = writeJSON(n.ipamPath(), s)
	}
	if err != nil {
		return nil, fmt.Errorf("add pod %s on %s: %w", id, n.Name, err)
	}
	pod := n.pod(id, ip)
	if err := recordNetNS(n.net.dir, pod.NetNS); err != nil {
		return nil, err
	}
	k, veth := n.net.k, pod.NodeVeth
	steps := []func() error{
		func() error { return k.CreateNetNS(pod.NetNS) },
		func() error { return k.AddVeth(n.NetNS, veth, podAlias(n.net.plan.Lab, id), pod.NetNS, "eth0") },
		func() error { return k.SetUp(pod.NetNS, "lo") },
		func() error { return k.AddAddr(pod.NetNS, "eth0", netip.PrefixFrom(ip, 32)) },
		func() error { return k.SetUp(pod.NetNS, "eth0") },
		func() error {
			return k.AddRoute(pod.NetNS, Route{Gw: PodGateway, Dev: "eth0", OnLink: true, Protocol: ProtoSvclab})
		},
		func() error { return k.SetSysctl(n.NetNS, "net.ipv4.conf."+veth+".proxy_arp", "1") },
		// Answer ARP at once; the default proxy_delay holds replies back up to 0.8 s.
		func() error { return k.SetSysctl(n.NetNS, "net.ipv4.neigh."+veth+".proxy_delay", "0") },
		func() error { return k.SetUp(n.NetNS, veth) },
		func() error {
			return k.AddRoute(n.NetNS, Route{Dst: netip.PrefixFrom(ip, 32), Dev: veth, Protocol: ProtoSvclab})
		},
	}
	if err := run(ctx, steps); err != nil {
		err = fmt.Errorf("add pod %s on %s: %w", id, n.Name, err)
		if rerr := n.removePod(s, id); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return nil, err
	}
	n.net.log.Debug("pod network ready", "node", n.Name, "pod", id, "ip", ip)
	return &pod, nil
}

// RemovePod removes pod id's veth and namespace and frees its address. It works from the
// IPAM file and names alone (no Pod object needed), and an unknown id is not an error.
func (n *Node) RemovePod(ctx context.Context, id string) error {
	if err := validatePodID(id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	s, err := loadIPAM(n.ipamPath(), n.PodCIDR)
	if err != nil {
		return fmt.Errorf("remove pod %s on %s: %w", id, n.Name, err)
	}
	if err := n.removePod(s, id); err != nil {
		return fmt.Errorf("remove pod %s on %s: %w", id, n.Name, err)
	}
	n.net.log.Debug("pod network removed", "node", n.Name, "pod", id)
	return nil
}

func (n *Node) removePod(s *ipamState, id string) error {
	pod := n.pod(id, netip.Addr{})
	// Deleting the node end removes the pod's eth0 and the /32 route with it.
	err := errors.Join(n.net.k.DeleteLink(n.NetNS, pod.NodeVeth), n.net.k.DeleteNetNS(pod.NetNS))
	if err != nil {
		return err
	}
	forgetNetNS(n.net.dir, pod.NetNS)
	s.release(id)
	return writeJSON(n.ipamPath(), s)
}

// Pods lists the pods with an address on this node, from its IPAM file.
func (n *Node) Pods() ([]Pod, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	s, err := loadIPAM(n.ipamPath(), n.PodCIDR)
	if err != nil {
		return nil, err
	}
	var pods []Pod
	for _, id := range s.ids() {
		pods = append(pods, n.pod(id, s.Pods[id]))
	}
	return pods, nil
}
