package network

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LabRealm is the route realm of lab's host routes; a route tagged with ProtoSvclab and this
// realm, inside the lab's plan, is removed by Teardown (the lab cloud tags its routes so).
func LabRealm(lab string) int { return labRealm(lab) }

// externalTopHost is the host number of the first external (…200), then downwards.
const externalTopHost = 200

// External is a machine on the node network that is not a node: a namespace with a veth on
// the lab bridge, for an app "outside the cluster" that a Service without a selector points at.
type External struct {
	Name      string     `json:"name"`
	NetNS     string     `json:"netns"`     // svclab-<lab>-x-<name>
	NetNSPath string     `json:"netnsPath"` // /run/netns/svclab-<lab>-x-<name>
	IP        netip.Addr `json:"ip"`
	Gateway   netip.Addr `json:"gateway"`  // the bridge, its default route
	HostVeth  string     `json:"hostVeth"` // the host end of its veth, on the bridge
}

// ExternalNetNS is the network namespace name of an external: svclab-<lab>-x-<name>.
func ExternalNetNS(lab, name string) string { return "svclab-" + lab + "-x-" + name }

func externalAlias(lab, name string) string { return aliasPrefix(lab) + "external:" + name }

// externalVethName is the host end of the external with host number host: svl<6 hex>x<host>.
func externalVethName(lab string, host int) string {
	return fmt.Sprintf("svl%06xx%d", labHash(lab)&0xffffff, host)
}

func (n *Network) externalDir() string { return filepath.Join(n.dir, "external") }

// Open returns the Network of a lab that is set up (by another process, e.g. `svclab up`),
// from the plan it saved. Its nodes are not loaded; it serves AddExternal and friends.
func Open(lab string, opts ...Option) (*Network, error) {
	if err := ValidateLabName(lab); err != nil {
		return nil, err
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(labStateDir(o.stateRoot, lab), "plan.json")
	var p Plan
	if err := readJSON(path, &p); err != nil {
		if isNotExist(err) {
			return nil, fmt.Errorf("lab %s has no network (no %s): start it with `sudo svclab up --name %s`", lab, path, lab)
		}
		return nil, err
	}
	return New(p, opts...)
}

// AddExternal creates the external name (a DNS label): namespace svclab-<lab>-x-<name> with
// eth0 on the node bridge, the highest free address of the node network from host number 200
// down (skipping the gateway and the nodes), a default route via the bridge, and a route to
// each node's pod /24 via that node (host-gw style, as the nodes have), so replies to pods
// that reached it through a Service go straight back to their node. Teardown removes it.
func (n *Network) AddExternal(ctx context.Context, name string) (External, error) {
	if err := ValidateLabName(name); err != nil {
		return External{}, fmt.Errorf("external name %q: must be a DNS label", name)
	}
	if _, err := n.External(name); err == nil {
		return External{}, fmt.Errorf("add external %s: it exists (remove it with `svclab external rm %s`): %w", name, name, fs.ErrExist)
	}
	x, host, err := n.reserveExternal(name)
	if err != nil {
		return External{}, fmt.Errorf("add external %s: %w", name, err)
	}
	x.HostVeth = externalVethName(n.plan.Lab, host)
	if err := writeJSON(n.externalFile(x.IP), x); err != nil {
		os.Remove(n.externalFile(x.IP))
		return External{}, fmt.Errorf("add external %s: %w", name, err)
	}
	if err := recordNetNS(n.dir, x.NetNS); err != nil {
		os.Remove(n.externalFile(x.IP))
		return External{}, err
	}
	p, k := n.plan, n.k
	steps := []func() error{
		func() error { return k.CreateNetNS(x.NetNS) },
		func() error { return k.AddVeth("", x.HostVeth, externalAlias(p.Lab, name), x.NetNS, "eth0") },
		func() error { return k.SetMaster("", x.HostVeth, p.Bridge) },
		func() error { return k.SetUp("", x.HostVeth) },
		func() error { return k.SetUp(x.NetNS, "lo") },
		func() error { return k.AddAddr(x.NetNS, "eth0", netip.PrefixFrom(x.IP, p.NodeCIDR.Bits())) },
		func() error { return k.SetUp(x.NetNS, "eth0") },
		func() error {
			return k.AddRoute(x.NetNS, Route{Gw: x.Gateway, Dev: "eth0", Protocol: ProtoSvclab})
		},
	}
	nodes, err := n.knownNodes()
	if err != nil {
		return External{}, fmt.Errorf("add external %s: %w", name, err)
	}
	for _, nd := range nodes {
		steps = append(steps, func() error {
			return k.AddRoute(x.NetNS, Route{Dst: nd.PodCIDR, Gw: nd.IP, Dev: "eth0", Protocol: ProtoSvclab})
		})
	}
	if err := run(ctx, steps); err != nil {
		err = fmt.Errorf("add external %s: %w", name, err)
		if rerr := n.removeExternal(x); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return External{}, err
	}
	n.log.Info("external ready", "external", name, "ip", x.IP)
	return x, nil
}

// RemoveExternal removes external name's veth, namespace and state; an unknown name is not
// an error.
func (n *Network) RemoveExternal(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	x, err := n.External(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if err := n.removeExternal(x); err != nil {
		return fmt.Errorf("remove external %s: %w", name, err)
	}
	n.log.Info("external removed", "external", name)
	return nil
}

func (n *Network) removeExternal(x External) error {
	err := errors.Join(n.k.DeleteLink("", x.HostVeth), n.k.DeleteNetNS(x.NetNS))
	if err != nil {
		return err
	}
	forgetNetNS(n.dir, x.NetNS)
	if err := os.Remove(n.externalFile(x.IP)); err != nil && !isNotExist(err) {
		return err
	}
	return nil
}

// External returns the external called name (an error wrapping fs.ErrNotExist if none).
func (n *Network) External(name string) (External, error) {
	xs, err := n.Externals()
	if err != nil {
		return External{}, err
	}
	for _, x := range xs {
		if x.Name == name {
			return x, nil
		}
	}
	return External{}, fmt.Errorf("external %s: %w", name, fs.ErrNotExist)
}

// Externals lists the lab's externals by name.
func (n *Network) Externals() ([]External, error) {
	entries, err := os.ReadDir(n.externalDir())
	if isNotExist(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var out []External
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		var x External
		if err := readJSON(filepath.Join(n.externalDir(), e.Name()), &x); err != nil || x.Name == "" {
			continue // a reservation being written
		}
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (n *Network) externalFile(ip netip.Addr) string {
	return filepath.Join(n.externalDir(), ip.String()+".json")
}

// reserveExternal picks the highest free address from host number 200 down and reserves it
// by creating its state file exclusively, so two concurrent callers never share one.
func (n *Network) reserveExternal(name string) (External, int, error) {
	p := n.plan
	used := map[netip.Addr]bool{p.Gateway(): true}
	nodes, err := n.knownNodes()
	if err != nil {
		return External{}, 0, err
	}
	for _, nd := range nodes {
		used[nd.IP] = true
	}
	if err := os.MkdirAll(n.externalDir(), 0o755); err != nil {
		return External{}, 0, err
	}
	size := 1 << (32 - p.NodeCIDR.Bits())
	top := min(externalTopHost, size-2) // never the broadcast address
	for host := top; host >= 2; host-- {
		ip := addToAddr(p.NodeCIDR.Addr(), uint32(host))
		if used[ip] {
			continue
		}
		f, err := os.OpenFile(n.externalFile(ip), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		} else if err != nil {
			return External{}, 0, err
		}
		f.Close()
		ns := ExternalNetNS(p.Lab, name)
		return External{Name: name, NetNS: ns, NetNSPath: filepath.Join(NetNSDir, ns), IP: ip, Gateway: p.Gateway()}, host, nil
	}
	return External{}, 0, fmt.Errorf("no free address in %s %s for an external: remove one with `svclab external rm`", FlagNodeCIDR, p.NodeCIDR)
}

// knownNodes lists the lab's nodes (name, IP, pod /24): those of this Network and those
// recorded in the state directory by the lab process.
func (n *Network) knownNodes() ([]*Node, error) {
	n.mu.Lock()
	byName := map[string]*Node{}
	for name, nd := range n.nodes {
		byName[name] = nd
	}
	n.mu.Unlock()
	entries, err := os.ReadDir(filepath.Join(n.dir, "nodes"))
	if err != nil && !isNotExist(err) {
		return nil, err
	}
	for _, e := range entries {
		if _, ok := byName[e.Name()]; ok || !e.IsDir() {
			continue
		}
		var s ipamState
		if err := readJSON(filepath.Join(n.dir, "nodes", e.Name(), "ipam.json"), &s); err != nil || !s.PodCIDR.IsValid() {
			continue
		}
		index := int(addrValue(s.PodCIDR.Addr())-addrValue(n.plan.PodCIDR.Addr())) >> 8
		ip, err := n.plan.NodeIP(index)
		if err != nil {
			continue
		}
		byName[e.Name()] = &Node{Name: e.Name(), Index: index, IP: ip, PodCIDR: s.PodCIDR}
	}
	out := make([]*Node, 0, len(byName))
	for _, nd := range byName {
		out = append(out, nd)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}

func addrValue(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
