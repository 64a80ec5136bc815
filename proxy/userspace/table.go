package userspace

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Table is a snapshot of what the userspace proxy is doing, served as JSON by
// TableHandler and read by Trace.
type Table struct {
	// Node is the node's name; ListenIP the listeners' address ("0.0.0.0" for all).
	Node     string     `json:"node"`
	ListenIP netip.Addr `json:"listenIP"`
	// Services holds one entry per proxied Service port, sorted by name and protocol.
	Services []TableEntry `json:"services"`
}

// TableEntry is one Service port: where it is reachable, the proxy port its portal rules
// lead to, and the balancer's state.
type TableEntry struct {
	// Name is upstream's "ns/name:port"; Protocol "TCP" or "UDP".
	Name            string           `json:"name"`
	Protocol        string           `json:"protocol"`
	ClusterIP       netip.Addr       `json:"clusterIP"`
	Port            int              `json:"port"`
	NodePort        int              `json:"nodePort,omitempty"`
	ExternalIPs     []netip.Addr     `json:"externalIPs,omitempty"`
	LoadBalancerIPs []netip.Addr     `json:"loadBalancerIPs,omitempty"`
	ProxyPort       int              `json:"proxyPort"`
	Endpoints       []netip.AddrPort `json:"endpoints"`
	// Next is the index in Endpoints that round robin picks next.
	Next int `json:"next"`
	// Affinity is set for sessionAffinity: ClientIP.
	Affinity *TableAffinity `json:"affinity,omitempty"`
	// UDPSessions counts live per-client UDP sessions.
	UDPSessions int `json:"udpSessions,omitempty"`
}

// TableAffinity is a Service port's ClientIP affinity: its timeout and the clients pinned
// to an endpoint.
type TableAffinity struct {
	TimeoutSeconds int              `json:"timeoutSeconds"`
	Clients        []AffinityClient `json:"clients,omitempty"`
}

// AffinityClient is one client pinned to an endpoint until its record expires.
type AffinityClient struct {
	ClientIP         netip.Addr     `json:"clientIP"`
	Endpoint         netip.AddrPort `json:"endpoint"`
	LastUsed         time.Time      `json:"lastUsed"`
	ExpiresInSeconds int            `json:"expiresInSeconds"`
}

// Lookup returns the entry listening on proxyPort for protocol ("tcp"/"TCP"), if any.
func (t Table) Lookup(proxyPort int, protocol string) (TableEntry, bool) {
	for _, e := range t.Services {
		if e.ProxyPort == proxyPort && strings.EqualFold(e.Protocol, protocol) {
			return e, true
		}
	}
	return TableEntry{}, false
}

// Table returns a snapshot of the proxy's listeners and balancer.
func (p *Proxier) Table() Table {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := Table{Node: p.cfg.NodeName, ListenIP: p.listenIP(), Services: []TableEntry{}}
	for _, name := range p.sortedNames() {
		svc := p.services[name]
		e := TableEntry{
			Name:            name.String(),
			Protocol:        string(svc.port.Protocol),
			ClusterIP:       svc.port.ClusterIP,
			Port:            svc.port.Port,
			NodePort:        svc.port.NodePort,
			ExternalIPs:     slices.Clone(svc.port.ExternalIPs),
			LoadBalancerIPs: slices.Clone(svc.port.LoadBalancerVIPs),
			ProxyPort:       svc.sock.proxyPort(),
			UDPSessions:     svc.sock.sessions(),
		}
		var clients []AffinityClient
		e.Endpoints, e.Next, clients = p.lb.snapshot(name)
		if e.Endpoints == nil {
			e.Endpoints = []netip.AddrPort{}
		}
		if svc.port.SessionAffinityClientIP {
			e.Affinity = &TableAffinity{TimeoutSeconds: svc.port.StickyMaxAgeSeconds, Clients: clients}
		}
		t.Services = append(t.Services, e)
	}
	return t
}

// TableHandler serves Table as JSON (the kube-proxy mounts it at /userspace on its metrics
// address, where `svclab trace` reads it).
func (p *Proxier) TableHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "only GET is supported", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(p.Table())
	})
}
