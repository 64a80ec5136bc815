package kubelettest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// Network is a recording pod network handing out addresses from a prefix.
type Network struct {
	mu     sync.Mutex
	prefix netip.Prefix
	next   netip.Addr
	pods   map[string]netip.Addr
	calls  []Call
	// SetupErr makes SetupPod fail.
	SetupErr error
}

// NewNetwork returns a network allocating from prefix (first address .2).
func NewNetwork(prefix netip.Prefix) *Network {
	return &Network{prefix: prefix, next: prefix.Addr().Next().Next(), pods: map[string]netip.Addr{}}
}

// SetupPod implements kubelet.PodNetwork.
func (n *Network) SetupPod(_ context.Context, pod *corev1.Pod) (string, netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls = append(n.calls, Call{Seq: seq.Add(1), Op: "Setup", ID: string(pod.UID)})
	if n.SetupErr != nil {
		return "", netip.Addr{}, n.SetupErr
	}
	ip, ok := n.pods[string(pod.UID)]
	if !ok {
		ip = n.next
		n.next = n.next.Next()
		n.pods[string(pod.UID)] = ip
	}
	return NetNSPath(pod), ip, nil
}

// NetNSPath is the fake namespace path of a pod.
func NetNSPath(pod *corev1.Pod) string { return "/run/netns/fake-" + string(pod.UID) }

// TeardownPod implements kubelet.PodNetwork.
func (n *Network) TeardownPod(_ context.Context, pod *corev1.Pod) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls = append(n.calls, Call{Seq: seq.Add(1), Op: "Teardown", ID: string(pod.UID)})
	delete(n.pods, string(pod.UID))
	return nil
}

// Calls returns the calls so far.
func (n *Network) Calls() []Call {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Call(nil), n.calls...)
}

// Dial is one recorded dial.
type Dial struct{ NetNS, Network, Addr string }

// Dialer records dials and connects them to Target (a loopback listener the test owns), or
// refuses them when Target is empty.
type Dialer struct {
	mu     sync.Mutex
	Target string
	dials  []Dial
}

// DialContext implements kubelet.Dialer.
func (d *Dialer) DialContext(ctx context.Context, netns, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dials = append(d.dials, Dial{netns, network, addr})
	target := d.Target
	d.mu.Unlock()
	if target == "" {
		return nil, fmt.Errorf("dial %s %s: connect: connection refused", network, addr)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, target)
}

// SetTarget changes where dials go ("" refuses them).
func (d *Dialer) SetTarget(t string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Target = t
}

// Dials returns the dials so far.
func (d *Dialer) Dials() []Dial {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Dial(nil), d.dials...)
}
