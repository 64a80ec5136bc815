package userspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/svclab/svclab/proxy"
	"github.com/svclab/svclab/proxy/ipt"
)

// Proxier is the userspace mode: one listener per Service port, a round-robin balancer,
// and the portal rules that lead Service traffic to the listeners.
type Proxier struct {
	cfg  proxy.Config
	ipt  ipt.Interface
	opts Options
	log  *slog.Logger
	lb   *balancer
	fwd  *forwarder

	mu          sync.Mutex
	services    map[proxy.ServicePortName]*service
	lastPayload []byte
}

var _ proxy.Proxier = (*Proxier)(nil)

// service is one proxied Service port.
type service struct {
	port *proxy.ServicePort
	sock socket
}

// New returns a userspace Proxier for the node in cfg. It opens nothing until the first
// Sync. Host portals DNAT to opts.ListenIP, or to cfg.NodeIPs[0] when the listeners bind
// every address, so one of the two is required.
func New(cfg proxy.Config, iptables ipt.Interface, opts Options, log *slog.Logger) (*Proxier, error) {
	if iptables == nil {
		return nil, errors.New("userspace proxier: no iptables interface given")
	}
	opts = opts.withDefaults()
	if opts.ListenIP.IsValid() && !opts.ListenIP.Is4() {
		return nil, fmt.Errorf("userspace proxier: listen address %s is not IPv4 (svclab's lab is IPv4-only)", opts.ListenIP)
	}
	if (!opts.ListenIP.IsValid() || opts.ListenIP.IsUnspecified()) && len(cfg.NodeIPs) == 0 {
		return nil, errors.New("userspace proxier: the node has no IP for the host portals: set Config.NodeIPs or Options.ListenIP")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "proxy", "mode", "userspace", "node", cfg.NodeName)
	lb := newBalancer(opts.Now)
	return &Proxier{
		cfg:  cfg,
		ipt:  iptables,
		opts: opts,
		log:  log,
		lb:   lb,
		fwd: &forwarder{
			lb: lb, dialer: opts.Dialer, dialTimeouts: opts.DialTimeouts,
			udpTimeout: opts.UDPIdleTimeout, log: log,
		},
		services: map[proxy.ServicePortName]*service{},
	}, nil
}

func (p *Proxier) listenIP() netip.Addr {
	if p.opts.ListenIP.IsValid() {
		return p.opts.ListenIP
	}
	return netip.IPv4Unspecified()
}

func (p *Proxier) target() portalTarget {
	t := portalTarget{listenIP: p.listenIP()}
	if len(p.cfg.NodeIPs) > 0 {
		t.hostIP = p.cfg.NodeIPs[0]
	}
	return t
}

func (p *Proxier) sortedNames() []proxy.ServicePortName {
	st := proxy.State{Services: map[proxy.ServicePortName]*proxy.ServicePort{}}
	for n, s := range p.services {
		st.Services[n] = s.port
	}
	return st.SortedServicePorts()
}

// Sync opens a listener for every new Service port, closes those of removed ones, hands
// the ready endpoints to the balancer, and rewrites the portal rules in one restore.
func (p *Proxier) Sync(ctx context.Context, state *proxy.State) error {
	start := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error

	// Listeners first: the rules need their ports.
	for name, svc := range p.services {
		if sp, ok := state.Services[name]; !ok || sp.Protocol != svc.port.Protocol {
			p.log.Info("Stopping service", "servicePortName", name.String(), "proxyPort", svc.sock.proxyPort())
			svc.sock.close(false)
			p.lb.remove(name)
			delete(p.services, name)
		}
	}
	addr := p.listenIP().String() + ":0"
	for _, name := range state.SortedServicePorts() {
		sp := state.Services[name]
		if sp.Protocol != corev1.ProtocolTCP && sp.Protocol != corev1.ProtocolUDP {
			// Upstream's userspace mode proxied TCP and UDP only; SCTP ports get no portal.
			p.log.Debug("Skipping service port: the userspace proxy handles TCP and UDP only", "servicePortName", name.String(), "protocol", sp.Protocol)
			continue
		}
		svc := p.services[name]
		if svc == nil {
			sock, err := openSocket(ctx, p.opts.Listener, p.fwd, name, sp.Protocol, addr)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			svc = &service{sock: sock}
			p.services[name] = svc
			p.log.Info("Proxying for service", "servicePortName", name.String(), "protocol", sp.Protocol, "proxyPort", sock.proxyPort())
		}
		svc.port = sp
		p.lb.update(name, balancerEndpoints(state.Endpoints[name], sp), sp.SessionAffinityClientIP, sp.StickyMaxAgeSeconds)
	}

	// Rules: the chains are small, so every sync rewrites them all.
	var nat, filter []portalRule
	t := p.target()
	for _, name := range p.sortedNames() {
		svc := p.services[name]
		n, f := serviceRules(svc.port, svc.sock.proxyPort(), p.lb.hasEndpoints(name), t)
		nat, filter = append(nat, n...), append(filter, f...)
	}
	payload := renderPayload(nat, filter)
	if state.Full || !bytes.Equal(payload, p.lastPayload) {
		if err := p.ipt.Restore(ctx, payload); err != nil {
			p.lastPayload = nil
			errs = append(errs, fmt.Errorf("restore userspace portal rules: %w", err))
			return errors.Join(errs...)
		}
		p.lastPayload = payload
	}
	for _, j := range jumpRules() {
		if _, err := p.ipt.EnsureRule(ctx, j.table, j.chain, j.args...); err != nil {
			errs = append(errs, fmt.Errorf("ensure jump from %s/%s to %s: %w", j.table, j.chain, j.args[len(j.args)-1], err))
		}
	}
	p.lb.cleanupStale()
	p.log.Debug("SyncProxyRules complete", "elapsed", time.Since(start), "services", len(p.services))
	return errors.Join(errs...)
}

// balancerEndpoints are the endpoints the proxy may use for sp: the ready ones (or the
// serving terminating ones when none is ready), only local ones under
// internalTrafficPolicy: Local. One listener serves all of a port's addresses, so
// externalTrafficPolicy has no separate endpoint set here, and the client address is lost
// anyway.
func balancerEndpoints(eps []proxy.Endpoint, sp *proxy.ServicePort) []netip.AddrPort {
	c := proxy.CategorizeEndpoints(eps, sp)
	use := c.Cluster
	if sp.InternalPolicyLocal {
		use = c.Local
	}
	out := make([]netip.AddrPort, 0, len(use))
	for _, e := range use {
		out = append(out, netip.AddrPortFrom(e.IP, uint16(e.Port)))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Compare(out[j]) < 0 })
	return slices.Compact(out)
}

// Close stops every listener and ends the connections in flight; the rules stay (Cleanup
// removes them too).
func (p *Proxier) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, svc := range p.services {
		svc.sock.close(true)
		p.lb.remove(name)
		delete(p.services, name)
	}
	p.lastPayload = nil
}
