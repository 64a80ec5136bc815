package networktest

import (
	"fmt"
	"io/fs"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/svclab/svclab/lab/network"
)

// Kernel is an in-memory network.Kernel. It keeps namespaces, links (veth pairs die
// together, routes die with their device) and routes, and records every change as a line
// shaped like the ip command that would make it, prefixed with the namespace ("host" for the
// host namespace): "svclab-lab-n1: route add default via 172.30.0.1 dev eth0 proto 92".
type Kernel struct {
	mu      sync.Mutex
	calls   []string
	netns   map[string]bool
	links   map[string]map[string]*link // ns → name → link
	routes  map[string][]network.Route
	sysctls map[string]string // "ns key" → value
	fail    map[string]error
}

type link struct {
	network.Link
	peerNS, peer string // for veths
	addrs        []netip.Prefix
}

var _ network.Kernel = (*Kernel)(nil)

// New returns an empty fake with a host namespace holding lo and eth0.
func New() *Kernel {
	k := &Kernel{
		netns:   map[string]bool{},
		links:   map[string]map[string]*link{"": {}},
		routes:  map[string][]network.Route{},
		sysctls: map[string]string{},
		fail:    map[string]error{},
	}
	k.links[""]["lo"] = &link{Link: network.Link{Name: "lo", Up: true}}
	k.links[""]["eth0"] = &link{Link: network.Link{Name: "eth0", Kind: "veth", Up: true}}
	return k
}

// FailOn makes the next call whose recorded line contains substr fail with err (once).
func (k *Kernel) FailOn(substr string, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fail[substr] = err
}

// Calls returns the recorded lines so far.
func (k *Kernel) Calls() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.calls...)
}

// ResetCalls forgets the recorded lines (the state stays).
func (k *Kernel) ResetCalls() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = nil
}

// AddHostRoute puts a route on the host without recording it, as if it were there before.
func (k *Kernel) AddHostRoute(r network.Route) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.routes[""] = append(k.routes[""], r)
}

// Sysctl returns a value set with SetSysctl ("" if never set).
func (k *Kernel) Sysctl(ns, key string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.sysctls[ns+" "+key]
}

// Addrs returns the addresses of a link.
func (k *Kernel) Addrs(ns, name string) []netip.Prefix {
	k.mu.Lock()
	defer k.mu.Unlock()
	if l := k.links[ns][name]; l != nil {
		return append([]netip.Prefix(nil), l.addrs...)
	}
	return nil
}

// Dump describes the whole state, sorted, one line per namespace, link and route; tests
// compare dumps before and after Teardown.
func (k *Kernel) Dump() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var lines []string
	for ns := range k.netns {
		lines = append(lines, "netns "+ns)
	}
	for ns, links := range k.links {
		for _, l := range links {
			lines = append(lines, fmt.Sprintf("%s: link %s kind=%s alias=%q master=%s up=%v addrs=%v", label(ns), l.Name, l.Kind, l.Alias, l.Master, l.Up, l.addrs))
		}
	}
	for ns, routes := range k.routes {
		for _, r := range routes {
			lines = append(lines, label(ns)+": route "+r.String())
		}
	}
	for key, v := range k.sysctls {
		ns, key, _ := strings.Cut(key, " ")
		lines = append(lines, fmt.Sprintf("%s: sysctl %s=%s", label(ns), key, v))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func label(ns string) string {
	if ns == "" {
		return "host"
	}
	return ns
}

// record logs a call and returns an injected failure for it, if any.
func (k *Kernel) record(ns, format string, args ...any) error {
	line := label(ns) + ": " + fmt.Sprintf(format, args...)
	if ns == "-" {
		line = fmt.Sprintf(format, args...)
	}
	k.calls = append(k.calls, line)
	for substr, err := range k.fail {
		if strings.Contains(line, substr) {
			delete(k.fail, substr)
			return fmt.Errorf("fake: %s: %w", line, err)
		}
	}
	return nil
}

func (k *Kernel) nsExists(ns string) error {
	if ns == "" || k.netns[ns] {
		return nil
	}
	return fmt.Errorf("fake: namespace %s: %w", ns, fs.ErrNotExist)
}

func (k *Kernel) getLink(ns, name string) (*link, error) {
	if err := k.nsExists(ns); err != nil {
		return nil, err
	}
	l := k.links[ns][name]
	if l == nil {
		return nil, fmt.Errorf("fake: link %s in %s not found", name, label(ns))
	}
	return l, nil
}

// CreateNetNS implements network.Kernel.
func (k *Kernel) CreateNetNS(name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record("-", "netns add %s", name); err != nil {
		return err
	}
	if k.netns[name] {
		return fmt.Errorf("fake: netns %s: %w", name, fs.ErrExist)
	}
	k.netns[name] = true
	k.links[name] = map[string]*link{"lo": {Link: network.Link{Name: "lo"}}}
	return nil
}

// DeleteNetNS implements network.Kernel.
func (k *Kernel) DeleteNetNS(name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record("-", "netns del %s", name); err != nil {
		return err
	}
	if !k.netns[name] {
		return nil
	}
	for lname := range k.links[name] {
		k.deleteLink(name, lname)
	}
	delete(k.netns, name)
	delete(k.links, name)
	delete(k.routes, name)
	for key := range k.sysctls {
		if strings.HasPrefix(key, name+" ") {
			delete(k.sysctls, key)
		}
	}
	return nil
}

// NetNSNames implements network.Kernel.
func (k *Kernel) NetNSNames() ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var names []string
	for name := range k.netns {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

func (k *Kernel) addLink(ns string, l *link) error {
	if _, ok := k.links[ns][l.Name]; ok {
		return fmt.Errorf("fake: link %s in %s: %w", l.Name, label(ns), syscall.EEXIST)
	}
	k.links[ns][l.Name] = l
	return nil
}

// AddBridge implements network.Kernel.
func (k *Kernel) AddBridge(ns, name, alias string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record(ns, "link add %s type bridge alias %s", name, alias); err != nil {
		return err
	}
	if err := k.nsExists(ns); err != nil {
		return err
	}
	return k.addLink(ns, &link{Link: network.Link{Name: name, Kind: "bridge", Alias: alias}})
}

// AddVeth implements network.Kernel.
func (k *Kernel) AddVeth(ns, name, alias, peerNS, peerName string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record(ns, "link add %s type veth alias %s peer %s netns %s", name, alias, peerName, label(peerNS)); err != nil {
		return err
	}
	if err := k.nsExists(ns); err != nil {
		return err
	}
	if err := k.nsExists(peerNS); err != nil {
		return err
	}
	if len(name) > 15 || len(peerName) > 15 {
		return fmt.Errorf("fake: link name %s or %s longer than 15 characters: %w", name, peerName, syscall.EINVAL)
	}
	if _, ok := k.links[peerNS][peerName]; ok {
		return fmt.Errorf("fake: link %s in %s: %w", peerName, label(peerNS), syscall.EEXIST)
	}
	if err := k.addLink(ns, &link{Link: network.Link{Name: name, Kind: "veth", Alias: alias}, peerNS: peerNS, peer: peerName}); err != nil {
		return err
	}
	return k.addLink(peerNS, &link{Link: network.Link{Name: peerName, Kind: "veth"}, peerNS: ns, peer: name})
}

// SetMaster implements network.Kernel.
func (k *Kernel) SetMaster(ns, name, master string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record(ns, "link set %s master %s", name, master); err != nil {
		return err
	}
	l, err := k.getLink(ns, name)
	if err != nil {
		return err
	}
	if _, err := k.getLink(ns, master); err != nil {
		return err
	}
	l.Master = master
	return nil
}

// SetUp implements network.Kernel.
func (k *Kernel) SetUp(ns, name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record(ns, "link set %s up", name); err != nil {
		return err
	}
	l, err := k.getLink(ns, name)
	if err != nil {
		return err
	}
	l.Up = true
	return nil
}

// DeleteLink implements network.Kernel.
func (k *Kernel) DeleteLink(ns, name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record(ns, "link del %s", name); err != nil {
		return err
	}
	if k.nsExists(ns) != nil {
		return nil
	}
	k.deleteLink(ns, name)
	return nil
}

func (k *Kernel) deleteLink(ns, name string) {
	l := k.links[ns][name]
	if l == nil {
		return
	}
	delete(k.links[ns], name)
	k.dropRoutes(ns, name)
	k.dropSysctls(ns, name)
	for _, other := range k.links[ns] {
		if other.Master == name {
			other.Master = ""
		}
	}
	if l.peer != "" {
		if p := k.links[l.peerNS][l.peer]; p != nil && p.peer == name {
			delete(k.links[l.peerNS], l.peer)
			k.dropRoutes(l.peerNS, l.peer)
			k.dropSysctls(l.peerNS, l.peer)
		}
	}
}

// dropSysctls forgets a deleted link's per-interface sysctls, as the kernel does.
func (k *Kernel) dropSysctls(ns, name string) {
	for key := range k.sysctls {
		if strings.HasPrefix(key, ns+" ") && strings.Contains(key, "."+name+".") {
			delete(k.sysctls, key)
		}
	}
}

func (k *Kernel) dropRoutes(ns, dev string) {
	kept := k.routes[ns][:0]
	for _, r := range k.routes[ns] {
		if r.Dev != dev {
			kept = append(kept, r)
		}
	}
	k.routes[ns] = kept
}

// Links implements network.Kernel.
func (k *Kernel) Links(ns string) ([]network.Link, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.nsExists(ns); err != nil {
		return nil, err
	}
	var out []network.Link
	for _, l := range k.links[ns] {
		out = append(out, l.Link)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// AddAddr implements network.Kernel; like the kernel it adds the connected route of a
// prefix shorter than /32 (proto kernel, scope link), without recording it.
func (k *Kernel) AddAddr(ns, name string, addr netip.Prefix) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record(ns, "addr add %s dev %s", addr, name); err != nil {
		return err
	}
	l, err := k.getLink(ns, name)
	if err != nil {
		return err
	}
	l.addrs = append(l.addrs, addr)
	if addr.Bits() < 32 {
		k.routes[ns] = append(k.routes[ns], network.Route{Dst: addr.Masked(), Dev: name, Protocol: 2, Scope: "link"})
	}
	return nil
}

func sameRoute(a, b network.Route) bool {
	table := func(t int) int {
		if t == 0 {
			return network.TableMain
		}
		return t
	}
	return a.Dst == b.Dst && table(a.Table) == table(b.Table) && a.Metric == b.Metric
}

// AddRoute implements network.Kernel.
func (k *Kernel) AddRoute(ns string, r network.Route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record(ns, "route add %s", r); err != nil {
		return err
	}
	if err := k.nsExists(ns); err != nil {
		return err
	}
	if r.Dev != "" {
		if _, err := k.getLink(ns, r.Dev); err != nil {
			return err
		}
	}
	for _, have := range k.routes[ns] {
		if sameRoute(have, r) {
			return fmt.Errorf("fake: route %s in %s: %w", r, label(ns), syscall.EEXIST)
		}
	}
	k.routes[ns] = append(k.routes[ns], r)
	return nil
}

// DeleteRoute implements network.Kernel.
func (k *Kernel) DeleteRoute(ns string, r network.Route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record(ns, "route del %s", r); err != nil {
		return err
	}
	for i, have := range k.routes[ns] {
		if sameRoute(have, r) {
			k.routes[ns] = append(k.routes[ns][:i], k.routes[ns][i+1:]...)
			return nil
		}
	}
	return nil
}

// Routes implements network.Kernel.
func (k *Kernel) Routes(ns string) ([]network.Route, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.nsExists(ns); err != nil {
		return nil, err
	}
	return append([]network.Route(nil), k.routes[ns]...), nil
}

// SetSysctl implements network.Kernel.
func (k *Kernel) SetSysctl(ns, key, value string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record(ns, "sysctl %s=%s", key, value); err != nil {
		return err
	}
	if err := k.nsExists(ns); err != nil {
		return err
	}
	k.sysctls[ns+" "+key] = value
	return nil
}
