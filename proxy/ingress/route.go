package ingress

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Backend is a Service port that requests are proxied to. Port is the Service port number,
// or PortName when the Ingress names the port.
type Backend struct {
	Namespace string
	Service   string
	Port      int32
	PortName  string
}

// String is "ns/svc:port" for logs and metrics.
func (b Backend) String() string {
	if b.PortName != "" {
		return fmt.Sprintf("%s/%s:%s", b.Namespace, b.Service, b.PortName)
	}
	return fmt.Sprintf("%s/%s:%d", b.Namespace, b.Service, b.Port)
}

// Route is the result of a table lookup.
type Route struct {
	Host    string // the rule's host ("" for a catch-all rule, "*.example.com" for a wildcard)
	Path    string // the rule's path ("" for the default backend)
	Exact   bool
	Backend Backend
	Ingress types.NamespacedName // the Ingress that defined the rule

	ingressName string // Ingress.String(), computed once for the access log
}

// Problem is something wrong with an Ingress that the controller reports as an Event on it:
// a rule that lost a conflict, an unsupported backend, a bad TLS Secret.
type Problem struct {
	Ingress types.NamespacedName
	Reason  string // "Conflict", "UnsupportedBackend", "BadSecret"
	Message string
}

// hostRules are the path rules of one host (or of the catch-all rules).
type hostRules struct {
	exact  map[string]Route
	prefix []Route // longest path first
}

// Table is an immutable routing table built from Ingresses by NewTable. Lookups are safe for
// concurrent use; the controller swaps whole tables on changes.
type Table struct {
	exact    map[string]*hostRules // by lower-case host
	wildcard map[string]*hostRules // by the suffix after "*."
	catchAll *hostRules
	def      *Route
	tls      map[string]TLSHost // by host pattern (exact or "*.suffix")
	fallback []TLSFallback      // in Ingress order
	Problems []Problem
}

// TLSHost is the Secret holding the certificate of a spec.tls host, and the Ingress that
// named it.
type TLSHost struct {
	Secret  types.NamespacedName
	Ingress types.NamespacedName
}

// TLSFallback is a spec.tls entry offered to the hosts that no spec.tls entry lists, as
// ingress-nginx does: for each rule host of the entry's Ingress that has no TLS entry of its
// own, the certificate serves the host when it covers the name (its SANs match), and the
// host is then redirected to HTTPS like a listed one. An entry without hosts (the API's
// "defaults to the wildcard host setting of the controller") whose Ingress has catch-all
// rules or a defaultBackend also becomes the controller's default certificate, served to SNI
// names without a certificate of their own and to clients that send no SNI; the first such
// Ingress in table order wins. The catch-all is not redirected to HTTPS.
type TLSFallback struct {
	Secret  types.NamespacedName
	Ingress types.NamespacedName
	Hosts   []string // the Ingress's rule hosts (lower-case, exact or "*.suffix") no spec.tls entry lists
	NoHosts bool     // the entry lists no hosts
	Default bool     // NoHosts, and the Ingress has catch-all rules or a defaultBackend
}

// NewTable merges the Ingresses (already filtered by class) into one table. Ingresses are
// taken oldest creationTimestamp first, then by namespace/name; when two define the same
// host and path with the same pathType (or two define a defaultBackend), the first one wins
// and the other gets a Problem.
//
// pathType ImplementationSpecific (and an unset pathType) is treated as Prefix, as
// ingress-nginx does for paths without regular expressions. Rules of a host that match no
// path fall through to the catch-all rules (those without a host), then to the
// defaultBackend, so the catch-all acts like nginx's default server.
func NewTable(ings []*networkingv1.Ingress) *Table {
	sorted := append([]*networkingv1.Ingress(nil), ings...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	t := &Table{exact: map[string]*hostRules{}, wildcard: map[string]*hostRules{}, catchAll: &hostRules{exact: map[string]Route{}}, tls: map[string]TLSHost{}}
	for _, ing := range sorted {
		t.add(ing)
	}
	for _, ing := range sorted {
		t.addFallbacks(ing)
	}
	for _, group := range t.groups() {
		sort.SliceStable(group.prefix, func(i, j int) bool { return len(group.prefix[i].Path) > len(group.prefix[j].Path) })
	}
	return t
}

func (t *Table) groups() []*hostRules {
	out := []*hostRules{t.catchAll}
	for _, g := range t.exact {
		out = append(out, g)
	}
	for _, g := range t.wildcard {
		out = append(out, g)
	}
	return out
}

func (t *Table) add(ing *networkingv1.Ingress) {
	id := types.NamespacedName{Namespace: ing.Namespace, Name: ing.Name}
	if db := ing.Spec.DefaultBackend; db != nil {
		if b, ok := t.backend(id, ing.Namespace, db); ok {
			if t.def != nil {
				t.problem(id, "Conflict", fmt.Sprintf("defaultBackend ignored: Ingress %s defines the default backend", t.def.Ingress))
			} else {
				t.def = &Route{Backend: b, Ingress: id, ingressName: id.String()}
			}
		}
	}
	for _, rule := range ing.Spec.Rules {
		host := strings.ToLower(rule.Host)
		group := t.group(host)
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			b, ok := t.backend(id, ing.Namespace, &p.Backend)
			if !ok {
				continue
			}
			path := p.Path
			if path == "" {
				path = "/"
			}
			exact := p.PathType != nil && *p.PathType == networkingv1.PathTypeExact
			r := Route{Host: host, Path: path, Exact: exact, Backend: b, Ingress: id, ingressName: id.String()}
			if exact {
				if prev, dup := group.exact[path]; dup {
					t.conflict(id, prev, r)
					continue
				}
				group.exact[path] = r
				continue
			}
			r.Path = normalizePrefix(path)
			if prev, dup := findPrefix(group.prefix, r.Path); dup {
				t.conflict(id, prev, r)
				continue
			}
			group.prefix = append(group.prefix, r)
		}
	}
	for _, tl := range ing.Spec.TLS {
		for _, h := range tl.Hosts {
			h = strings.ToLower(h)
			ref := TLSHost{Secret: types.NamespacedName{Namespace: ing.Namespace, Name: tl.SecretName}, Ingress: id}
			if prev, dup := t.tls[h]; dup {
				if prev.Secret != ref.Secret {
					t.problem(id, "Conflict", fmt.Sprintf("tls host %s ignored: Ingress %s serves it with Secret %s", h, prev.Ingress, prev.Secret))
				}
				continue
			}
			t.tls[h] = ref
		}
	}
}

// addFallbacks records the TLSFallbacks of ing once every listed TLS host is known.
func (t *Table) addFallbacks(ing *networkingv1.Ingress) {
	if len(ing.Spec.TLS) == 0 {
		return
	}
	id := types.NamespacedName{Namespace: ing.Namespace, Name: ing.Name}
	var hosts []string
	catchAll := ing.Spec.DefaultBackend != nil
	for _, rule := range ing.Spec.Rules {
		h := strings.ToLower(rule.Host)
		if h == "" {
			catchAll = true
			continue
		}
		if _, listed := t.tls[h]; !listed && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	for _, tl := range ing.Spec.TLS {
		if tl.SecretName == "" {
			continue
		}
		noHosts := len(tl.Hosts) == 0
		if !noHosts && len(hosts) == 0 {
			continue
		}
		t.fallback = append(t.fallback, TLSFallback{Secret: types.NamespacedName{Namespace: ing.Namespace, Name: tl.SecretName},
			Ingress: id, Hosts: hosts, NoHosts: noHosts, Default: noHosts && catchAll})
	}
}

func (t *Table) conflict(id types.NamespacedName, prev, r Route) {
	kind := "Prefix"
	if r.Exact {
		kind = "Exact"
	}
	host := r.Host
	if host == "" {
		host = "*"
	}
	t.problem(id, "Conflict", fmt.Sprintf("rule %s %s (%s) ignored: Ingress %s routes it to %s", host, r.Path, kind, prev.Ingress, prev.Backend))
}

func (t *Table) problem(id types.NamespacedName, reason, msg string) {
	t.Problems = append(t.Problems, Problem{Ingress: id, Reason: reason, Message: msg})
}

func (t *Table) group(host string) *hostRules {
	m, key := t.exact, host
	switch {
	case host == "":
		return t.catchAll
	case strings.HasPrefix(host, "*."):
		m, key = t.wildcard, host[2:]
	}
	g := m[key]
	if g == nil {
		g = &hostRules{exact: map[string]Route{}}
		m[key] = g
	}
	return g
}

func (t *Table) backend(id types.NamespacedName, ns string, b *networkingv1.IngressBackend) (Backend, bool) {
	if b.Service == nil {
		t.problem(id, "UnsupportedBackend", "only Service backends are supported; resource backends are ignored")
		return Backend{}, false
	}
	return Backend{Namespace: ns, Service: b.Service.Name, Port: b.Service.Port.Number, PortName: b.Service.Port.Name}, true
}

func findPrefix(rs []Route, path string) (Route, bool) {
	for _, r := range rs {
		if r.Path == path {
			return r, true
		}
	}
	return Route{}, false
}

// normalizePrefix drops trailing slashes: the spec ignores them for Prefix paths.
func normalizePrefix(p string) string {
	for len(p) > 1 && strings.HasSuffix(p, "/") {
		p = p[:len(p)-1]
	}
	return p
}

// prefixMatch is the spec's element-wise prefix match: /foo matches /foo, /foo/ and
// /foo/bar but not /foobar. p is normalized.
func prefixMatch(p, path string) bool {
	if p == "/" {
		return true
	}
	return path == p || strings.HasPrefix(path, p+"/")
}

// match finds the rule for path: an Exact rule first, then the longest matching Prefix.
func (g *hostRules) match(path string) (Route, bool) {
	if g == nil {
		return Route{}, false
	}
	if r, ok := g.exact[path]; ok {
		return r, true
	}
	for _, r := range g.prefix {
		if prefixMatch(r.Path, path) {
			return r, true
		}
	}
	return Route{}, false
}

// TLS returns the spec.tls hosts (exact or "*.suffix", lower-case) of the table's Ingresses.
func (t *Table) TLS() map[string]TLSHost { return t.tls }

// TLSFallbacks are the spec.tls entries offered to hosts that no entry lists, and the
// entries without hosts, in Ingress order.
func (t *Table) TLSFallbacks() []TLSFallback { return t.fallback }

// CanonicalHost lower-cases a Host header and strips its port and trailing dot.
func CanonicalHost(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	host = strings.TrimPrefix(strings.TrimSuffix(host, "]"), "[")
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// Match returns the route for a request's Host header and URL path: the rules of the exact
// host, then of a wildcard host (one label: *.example.com matches a.example.com, not
// example.com nor a.b.example.com), then the catch-all rules, then the defaultBackend.
func (t *Table) Match(host, path string) (Route, bool) {
	host = CanonicalHost(host)
	if path == "" {
		path = "/"
	}
	if r, ok := t.exact[host].match(path); ok {
		return r, true
	}
	if _, suffix, ok := strings.Cut(host, "."); ok {
		if r, ok := t.wildcard[suffix].match(path); ok {
			return r, true
		}
	}
	if r, ok := t.catchAll.match(path); ok {
		return r, true
	}
	if t.def != nil {
		return *t.def, true
	}
	return Route{}, false
}
