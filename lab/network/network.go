package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// Network is one lab's network: the host bridge and routes, and its nodes.
type Network struct {
	plan Plan
	k    Kernel
	log  *slog.Logger
	root string
	dir  string // <root>/<lab>/network

	mu    sync.Mutex
	nodes map[string]*Node
}

// New validates plan and returns its Network; nothing touches the kernel until Setup.
func New(plan Plan, opts ...Option) (*Network, error) {
	if err := plan.Validate(); err != nil {
		return nil, fmt.Errorf("network plan: %w", err)
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	return &Network{
		plan:  plan,
		k:     o.kernel,
		log:   o.log.With("component", "network", "lab", plan.Lab),
		root:  o.stateRoot,
		dir:   labStateDir(o.stateRoot, plan.Lab),
		nodes: map[string]*Node{},
	}, nil
}

// Plan returns the address plan.
func (n *Network) Plan() Plan { return n.plan }

// Kernel returns the kernel the network programs.
func (n *Network) Kernel() Kernel { return n.k }

// CheckHost refuses ranges that overlap a route already on the host (see CheckHostOverlap).
func (n *Network) CheckHost() error {
	routes, err := HostRoutes(n.k, n.plan)
	if err != nil {
		return err
	}
	return CheckHostOverlap(n.plan, routes)
}

// Setup builds the host side: the bridge with the gateway address, up, and unreachable routes
// for the pod and service ranges so lab addresses typed on the host fail locally instead of
// leaving the machine. Host sysctls are not changed: the host only sends and receives on the
// bridge and never forwards lab traffic. On error, what was built is torn down.
func (n *Network) Setup(ctx context.Context) error {
	p := n.plan
	if err := writeJSON(filepath.Join(n.dir, "plan.json"), p); err != nil {
		return fmt.Errorf("save network plan: %w", err)
	}
	realm := labRealm(p.Lab)
	steps := []func() error{
		func() error { return n.k.AddBridge("", p.Bridge, bridgeAlias(p.Lab)) },
		func() error {
			return n.k.AddAddr("", p.Bridge, netip.PrefixFrom(p.Gateway(), p.NodeCIDR.Bits()))
		},
		func() error { return n.k.SetUp("", p.Bridge) },
		func() error {
			return n.k.AddRoute("", Route{Type: RouteUnreachable, Dst: p.PodCIDR, Protocol: ProtoSvclab, Realm: realm})
		},
		func() error {
			return n.k.AddRoute("", Route{Type: RouteUnreachable, Dst: p.ServiceCIDR, Protocol: ProtoSvclab, Realm: realm})
		},
	}
	if err := run(ctx, steps); err != nil {
		err = fmt.Errorf("set up the host network of lab %s: %w", p.Lab, err)
		if terr := n.Teardown(context.WithoutCancel(ctx)); terr != nil {
			err = errors.Join(err, terr)
		}
		return err
	}
	n.log.Info("host network ready", "bridge", p.Bridge, "gateway", p.Gateway())
	return nil
}

// run runs steps in order, stopping at the first error or when ctx is done.
func run(ctx context.Context, steps []func() error) error {
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// Node returns the node called name, or nil.
func (n *Network) Node(name string) *Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.nodes[name]
}

// Nodes returns the nodes by index.
func (n *Network) Nodes() []*Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sortedNodes()
}

func (n *Network) sortedNodes() []*Node {
	out := make([]*Node, 0, len(n.nodes))
	for _, node := range n.nodes {
		out = append(out, node)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

// AddNode creates node name with index (NodeIP and pod /24 come from the plan): its
// namespace svclab-<lab>-<name> (usable with `ip netns exec`), a veth whose host end joins
// the bridge and whose node end is eth0 with the NodeIP, a default route via the gateway, IP
// forwarding and route_localnet (as kube-proxy needs), and host-gw routes: between this
// node and every other node's pod /24, and from the host to this node's pod /24.
func (n *Network) AddNode(ctx context.Context, name string, index int) (*Node, error) {
	if err := validateNodeName(name); err != nil {
		return nil, err
	}
	p := n.plan
	ip, err := p.NodeIP(index)
	if err != nil {
		return nil, err
	}
	cidr, err := p.NodePodCIDR(index)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, other := range n.nodes {
		if other.Name == name || other.Index == index {
			return nil, fmt.Errorf("add node %s: node %s already has that name or index %d: %w", name, other.Name, index, os.ErrExist)
		}
	}
	ns := NodeNetNS(p.Lab, name)
	node := &Node{
		Name: name, Index: index, NetNS: ns, NetNSPath: filepath.Join(NetNSDir, ns),
		IP: ip, PodCIDR: cidr, HostVeth: hostVethName(p.Lab, index),
		net: n, dir: filepath.Join(n.dir, "nodes", name),
	}
	if err := recordNetNS(n.dir, ns); err != nil {
		return nil, err
	}
	others := n.sortedNodes()
	steps := []func() error{
		func() error { return n.k.CreateNetNS(ns) },
		func() error { return n.k.AddVeth("", node.HostVeth, nodeAlias(p.Lab, name), ns, "eth0") },
		func() error { return n.k.SetMaster("", node.HostVeth, p.Bridge) },
		func() error { return n.k.SetUp("", node.HostVeth) },
		func() error { return n.k.SetUp(ns, "lo") },
		func() error { return n.k.SetSysctl(ns, "net.ipv4.ip_forward", "1") },
		// kube-proxy sets this for NodePorts on 127.0.0.1 (iptables mode).
		func() error { return n.k.SetSysctl(ns, "net.ipv4.conf.all.route_localnet", "1") },
		func() error { return n.k.AddAddr(ns, "eth0", netip.PrefixFrom(ip, p.NodeCIDR.Bits())) },
		func() error { return n.k.SetUp(ns, "eth0") },
		func() error {
			return n.k.AddRoute(ns, Route{Gw: p.Gateway(), Dev: "eth0", Protocol: ProtoSvclab})
		},
		// An address of this node's pod range without a pod (one just deleted) fails at
		// once with "host unreachable" instead of leaving by the default route, where the
		// host drops it silently and clients hang until their connect timeout.
		func() error {
			return n.k.AddRoute(ns, Route{Type: RouteUnreachable, Dst: node.PodCIDR, Protocol: ProtoSvclab})
		},
	}
	for _, other := range others {
		steps = append(steps,
			func() error { return n.k.AddRoute(ns, other.podRoute()) },
			func() error { return n.k.AddRoute(other.NetNS, node.podRoute()) })
	}
	steps = append(steps,
		func() error { return n.k.AddRoute("", node.hostRoute()) },
		func() error {
			return writeJSON(node.ipamPath(), &ipamState{PodCIDR: cidr, Pods: map[string]netip.Addr{}})
		},
	)
	if err := run(ctx, steps); err != nil {
		err = fmt.Errorf("add node %s: %w", name, err)
		if rerr := n.removeNode(context.WithoutCancel(ctx), node, others); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return nil, err
	}
	n.nodes[name] = node
	n.log.Info("node network ready", "node", name, "ip", ip, "podCIDR", cidr)
	return node, nil
}

// RemoveNode removes a node's pods, its routes on the host and on the other nodes, its veth
// and its namespace. A node this Network does not know is not an error.
func (n *Network) RemoveNode(ctx context.Context, name string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	node, ok := n.nodes[name]
	if !ok {
		return nil
	}
	delete(n.nodes, name)
	if err := n.removeNode(ctx, node, n.sortedNodes()); err != nil {
		return fmt.Errorf("remove node %s: %w", name, err)
	}
	n.log.Info("node network removed", "node", name)
	return nil
}

// removeNode undoes AddNode as far as it got; it carries on past errors.
func (n *Network) removeNode(ctx context.Context, node *Node, others []*Node) error {
	var errs []error
	if s, err := loadIPAM(node.ipamPath(), node.PodCIDR); err == nil {
		for _, id := range s.ids() {
			errs = append(errs, node.RemovePod(ctx, id))
		}
	}
	for _, other := range others {
		errs = append(errs, n.k.DeleteRoute(other.NetNS, node.podRoute()))
	}
	errs = append(errs,
		n.k.DeleteRoute("", node.hostRoute()),
		n.k.DeleteLink("", node.HostVeth),
		n.k.DeleteNetNS(node.NetNS),
	)
	forgetNetNS(n.dir, node.NetNS)
	errs = append(errs, os.RemoveAll(node.dir))
	return errors.Join(errs...)
}

// Teardown removes everything of this lab (see the package function Teardown).
func (n *Network) Teardown(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.nodes = map[string]*Node{}
	return teardown(ctx, n.k, n.root, n.plan.Lab, n.log)
}
