package ingress

import (
	"context"
	"log/slog"
	"reflect"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/record"
)

// controller rebuilds the proxy's table, certificates and endpoints from the informer caches.
type controller struct {
	client  kubernetes.Interface
	class   string
	publish string
	rec     record.EventRecorder
	log     *slog.Logger
	handler *Handler
	certs   *Certificates
	eps     *EndpointMap
	trigger chan struct{}

	ingresses networkinglisters.IngressLister
	classes   networkinglisters.IngressClassLister
	services  corelisters.ServiceLister
	slices    discoverylisters.EndpointSliceLister
	secrets   corelisters.SecretLister
	nodes     corelisters.NodeLister

	reported map[string]bool // problems already sent as Events (only sync touches it)
	// served are the Ingresses that were ours at the last sync (only sync touches it), so
	// that one which leaves the class gets the status we wrote cleared.
	served map[types.NamespacedName]bool
}

// sync rebuilds everything and swaps it in: endpoints first, then certificates, then the
// table, so a new route never points at an unresolved backend. Requests in flight finish
// on what they started with.
func (c *controller) sync(ctx context.Context) {
	all, err := c.ingresses.List(labels.Everything())
	if err != nil {
		c.log.Error("List Ingresses", "err", err)
		return
	}
	classes, _ := c.classes.List(labels.Everything())
	var ours, left []*networkingv1.Ingress
	served := map[types.NamespacedName]bool{}
	for _, ing := range all {
		id := types.NamespacedName{Namespace: ing.Namespace, Name: ing.Name}
		switch {
		case ing.DeletionTimestamp == nil && Ours(ing, c.class, classes):
			ours = append(ours, ing)
			served[id] = true
		case c.served[id] && ing.DeletionTimestamp == nil:
			left = append(left, ing)
		}
	}
	c.served = served
	table := NewTable(ours)
	m := map[Backend][]string{}
	for _, b := range table.Backends() {
		m[b] = ResolveBackend(b, c.services, c.slices)
	}
	gone := c.eps.Removed(m)
	c.eps.Set(m)
	if gone {
		// Pooled keep-alive connections to an endpoint that left may point at a pod that is
		// shutting down or already gone (then no reset ever comes): drop them so the next
		// request dials a ready endpoint.
		c.handler.CloseIdleConnections()
	}
	hosts, problems := c.certs.Update(table, c.secret)
	c.handler.SetTLSHosts(hosts)
	c.handler.SetTable(table)
	c.log.Debug("Synced", "ingresses", len(ours), "backends", len(m), "tlsHosts", len(hosts))
	c.report(append(table.Problems, problems...))
	want := c.addresses()
	c.updateStatus(ctx, ours, want)
	c.clearStatus(ctx, left, want)
}

// report records each new problem as a Warning Event on its Ingress, once while it lasts.
func (c *controller) report(problems []Problem) {
	now := map[string]bool{}
	for _, p := range problems {
		key := p.Ingress.String() + "\x00" + p.Reason + "\x00" + p.Message
		now[key] = true
		if c.reported[key] {
			continue
		}
		ing, err := c.ingresses.Ingresses(p.Ingress.Namespace).Get(p.Ingress.Name)
		if err != nil {
			continue
		}
		c.log.Warn("Ingress problem", "ingress", p.Ingress, "reason", p.Reason, "message", p.Message)
		c.rec.Event(ing, corev1.EventTypeWarning, p.Reason, p.Message)
	}
	c.reported = now
}

// addresses are what clients use to reach the controller: the publish Service's
// LoadBalancer ingress, else the InternalIPs of the nodes (reached on the NodePort).
func (c *controller) addresses() []networkingv1.IngressLoadBalancerIngress {
	var out []networkingv1.IngressLoadBalancerIngress
	if ns, name, ok := strings.Cut(c.publish, "/"); ok {
		if svc, err := c.services.Services(ns).Get(name); err == nil {
			for _, lb := range svc.Status.LoadBalancer.Ingress {
				out = append(out, networkingv1.IngressLoadBalancerIngress{IP: lb.IP, Hostname: lb.Hostname})
			}
			if len(out) > 0 {
				return out
			}
		}
	}
	nodes, _ := c.nodes.List(labels.Everything())
	for _, n := range nodes {
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				out = append(out, networkingv1.IngressLoadBalancerIngress{IP: a.Address})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP+out[i].Hostname < out[j].IP+out[j].Hostname })
	return out
}

// updateStatus writes status.loadBalancer.ingress of our Ingresses where it differs.
func (c *controller) updateStatus(ctx context.Context, ours []*networkingv1.Ingress, want []networkingv1.IngressLoadBalancerIngress) {
	for _, ing := range ours {
		if reflect.DeepEqual(ing.Status.LoadBalancer.Ingress, want) || (len(want) == 0 && len(ing.Status.LoadBalancer.Ingress) == 0) {
			continue
		}
		u := ing.DeepCopy()
		u.Status.LoadBalancer.Ingress = want
		if _, err := c.client.NetworkingV1().Ingresses(u.Namespace).UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
			// A conflict means a newer version is on its way through the informer, which
			// triggers another sync.
			c.log.Info("Update Ingress status", "ingress", u.Namespace+"/"+u.Name, "err", err)
		}
	}
}

// clearStatus empties status.loadBalancer.ingress of Ingresses that left our class (their
// ingressClassName or annotation now names another controller's class, or our IngressClass
// stopped being the default for a classless one): the address we wrote no longer serves
// them, and the controller now responsible writes its own. Only Ingresses served since this
// process started are cleared, and only while their status is still the addresses we write
// (want), so another controller's status is never touched; a status update that fails is
// retried on the next sync.
func (c *controller) clearStatus(ctx context.Context, left []*networkingv1.Ingress, want []networkingv1.IngressLoadBalancerIngress) {
	for _, ing := range left {
		if len(ing.Status.LoadBalancer.Ingress) == 0 || !reflect.DeepEqual(ing.Status.LoadBalancer.Ingress, want) {
			continue
		}
		u := ing.DeepCopy()
		u.Status.LoadBalancer.Ingress = nil
		if _, err := c.client.NetworkingV1().Ingresses(u.Namespace).UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
			c.log.Info("Clear Ingress status", "ingress", u.Namespace+"/"+u.Name, "err", err)
			c.served[types.NamespacedName{Namespace: u.Namespace, Name: u.Name}] = true // try again next sync
			continue
		}
		c.log.Info("Ingress left the class: status cleared", "ingress", u.Namespace+"/"+u.Name)
	}
}
