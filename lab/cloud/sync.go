package cloud

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// Event reasons, as upstream's service controller records them.
const (
	ReasonEnsuring        = "EnsuringLoadBalancer"
	ReasonEnsured         = "EnsuredLoadBalancer"
	ReasonUpdated         = "UpdatedLoadBalancer"
	ReasonDeleting        = "DeletingLoadBalancer"
	ReasonDeleted         = "DeletedLoadBalancer"
	ReasonSyncFailed      = "SyncLoadBalancerFailed"
	ReasonNoNodes         = "UnAvailableLoadBalancer"
	ReasonDeleteFailed    = "DeleteLoadBalancerFailed"
	messageEnsuring       = "Ensuring load balancer"
	messageEnsured        = "Ensured load balancer"
	messageDeleting       = "Deleting load balancer"
	messageDeleted        = "Deleted load balancer"
	messageUpdatedNexthop = "Updated load balancer with new hosts"
)

func key(svc *corev1.Service) string { return svc.Namespace + "/" + svc.Name }

// wantsLB says whether the cloud should give svc a load balancer: type LoadBalancer without a
// loadBalancerClass (a class names another implementation, as upstream honours it).
func wantsLB(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.LoadBalancerClass == nil
}

func hasFinalizer(svc *corev1.Service) bool { return slices.Contains(svc.Finalizers, Finalizer) }

// sync brings one Service's load balancer (address, route, status, finalizer) in line.
func (c *controller) sync(ctx context.Context, k string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		// Gone without us (finalizer removed by hand): release what it held.
		delete(c.lastWarn, k)
		delete(c.waiting, k)
		return c.releaseAll(ctx, k)
	case err != nil:
		return err
	case !wantsLB(svc) || svc.DeletionTimestamp != nil:
		return c.cleanup(ctx, k, svc)
	}
	return c.ensure(ctx, k, svc)
}

// ensure gives a LoadBalancer Service its finalizer, address, route and status.
func (c *controller) ensure(ctx context.Context, k string, svc *corev1.Service) error {
	if held, ok := c.pool.lookup(k); !ok || !hasFinalizer(svc) || !statusIs(svc, held) {
		// About to write: read the latest version, not the informer's possibly stale copy,
		// so an update we just made does not cause a conflict and a repeated Event.
		fresh, err := c.client.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !wantsLB(fresh) || fresh.DeletionTimestamp != nil {
			return c.cleanup(ctx, k, fresh)
		}
		svc = fresh
	}
	if !hasFinalizer(svc) {
		svc = svc.DeepCopy()
		svc.Finalizers = append(svc.Finalizers, Finalizer)
		updated, err := c.client.CoreV1().Services(svc.Namespace).Update(ctx, svc, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("add finalizer: %w", err)
		}
		svc = updated
	}
	ip, err := c.assign(k, svc)
	if err != nil {
		c.waiting[k] = true
		c.warn(svc, ReasonSyncFailed, "Error syncing load balancer: %v", err)
		if err := c.unroute(ctx, k); err != nil {
			return err
		}
		_, err := c.setStatus(ctx, svc, netip.Addr{})
		return err
	}
	delete(c.waiting, k)
	newStatus := !statusIs(svc, ip)
	if newStatus {
		c.rec.Event(svc, corev1.EventTypeNormal, ReasonEnsuring, messageEnsuring)
	}
	via, err := c.nexthops(svc)
	if err != nil {
		return err
	}
	prev, hadRoute := c.routed[k]
	changed, err := c.route(ctx, k, Route{Dst: netip.PrefixFrom(ip, 32), Via: via})
	if err != nil {
		c.warn(svc, ReasonSyncFailed, "Error syncing load balancer: route %s: %v", ip, err)
		return err
	}
	if newStatus {
		if _, err := c.setStatus(ctx, svc, ip); err != nil {
			return err
		}
		c.log.Info("load balancer ensured", "service", k, "ip", ip, "nodes", len(via))
		c.rec.Eventf(svc, corev1.EventTypeNormal, ReasonEnsured, messageEnsured)
	} else if changed && hadRoute && prev.Dst.Addr() == ip {
		c.log.Info("load balancer hosts updated", "service", k, "ip", ip, "nodes", len(via))
		c.rec.Event(svc, corev1.EventTypeNormal, ReasonUpdated, messageUpdatedNexthop)
	}
	delete(c.lastWarn, k)
	return nil
}

// assign returns the Service's address: spec.loadBalancerIP when set (refused when taken or
// not in the pool), else the one it holds or the lowest free one.
func (c *controller) assign(k string, svc *corev1.Service) (netip.Addr, error) {
	req := svc.Spec.LoadBalancerIP
	if req == "" {
		return c.pool.allocate(k)
	}
	a, err := netip.ParseAddr(req)
	if err == nil {
		err = c.pool.claim(k, a.Unmap())
	}
	if err != nil {
		c.release(k) // it no longer wants the address it held
		return netip.Addr{}, fmt.Errorf("requested spec.loadBalancerIP %q: %w", req, err)
	}
	return a.Unmap(), nil
}

// cleanup releases what the cloud holds for a Service that is being deleted or is no
// longer of type LoadBalancer, clears its status and removes the finalizer.
func (c *controller) cleanup(ctx context.Context, k string, svc *corev1.Service) error {
	delete(c.waiting, k)
	delete(c.lastWarn, k)
	_, held := c.pool.lookup(k)
	if !held && !hasFinalizer(svc) {
		return nil
	}
	c.rec.Event(svc, corev1.EventTypeNormal, ReasonDeleting, messageDeleting)
	if err := c.releaseAll(ctx, k); err != nil {
		c.rec.Eventf(svc, corev1.EventTypeWarning, ReasonDeleteFailed, "Error deleting load balancer: %v", err)
		return err
	}
	if svc.DeletionTimestamp == nil && len(svc.Status.LoadBalancer.Ingress) > 0 && svc.Spec.LoadBalancerClass == nil {
		updated, err := c.setStatus(ctx, svc, netip.Addr{})
		if err != nil {
			return err
		}
		svc = updated
	}
	if hasFinalizer(svc) {
		svc = svc.DeepCopy()
		svc.Finalizers = slices.DeleteFunc(svc.Finalizers, func(f string) bool { return f == Finalizer })
		if _, err := c.client.CoreV1().Services(svc.Namespace).Update(ctx, svc, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("remove finalizer: %w", err)
		}
	}
	c.log.Info("load balancer deleted", "service", k)
	c.rec.Event(svc, corev1.EventTypeNormal, ReasonDeleted, messageDeleted)
	return nil
}

// releaseAll removes a Service's route and frees its address.
func (c *controller) releaseAll(ctx context.Context, k string) error {
	if err := c.unroute(ctx, k); err != nil {
		return err
	}
	c.release(k)
	return nil
}

// release frees k's address and retries the Services waiting for one.
func (c *controller) release(k string) {
	if _, ok := c.pool.release(k); !ok {
		return
	}
	for w := range c.waiting {
		if w != k {
			c.queue.Add(w)
		}
	}
}

// route installs k's /32 route (deleting it when there is no next hop, so the pool's
// unreachable route answers) and reports whether anything changed.
func (c *controller) route(ctx context.Context, k string, r Route) (bool, error) {
	prev, ok := c.routed[k]
	if ok && prev.Dst == r.Dst && slices.Equal(prev.Via, r.Via) {
		return false, nil
	}
	if ok && prev.Dst != r.Dst {
		if err := c.unroute(ctx, k); err != nil {
			return false, err
		}
	}
	if !c.pool.usable(r.Dst.Addr()) { // never route anything outside the pool
		return false, fmt.Errorf("refusing to route %s: outside the pool %s", r.Dst, c.pool.prefix)
	}
	var err error
	if len(r.Via) == 0 {
		err = c.routes.Delete(ctx, r.Dst)
	} else {
		err = c.routes.Replace(ctx, r)
	}
	if err != nil {
		return false, err
	}
	c.routed[k] = r
	return true, nil
}

func (c *controller) unroute(ctx context.Context, k string) error {
	prev, ok := c.routed[k]
	if a, held := c.pool.lookup(k); !ok && held {
		prev, ok = Route{Dst: netip.PrefixFrom(a, 32)}, true // a route from before a restart
	}
	if !ok {
		return nil
	}
	if err := c.routes.Delete(ctx, prev.Dst); err != nil {
		return err
	}
	delete(c.routed, k)
	return nil
}

func statusIs(svc *corev1.Service, ip netip.Addr) bool {
	ing := svc.Status.LoadBalancer.Ingress
	if !ip.IsValid() {
		return len(ing) == 0
	}
	return len(ing) == 1 && ing[0].IP == ip.String() && ing[0].Hostname == "" &&
		ing[0].IPMode != nil && *ing[0].IPMode == corev1.LoadBalancerIPModeVIP
}

// setStatus writes status.loadBalancer.ingress (empty for the zero ip) when it differs and
// returns the Service as stored.
func (c *controller) setStatus(ctx context.Context, svc *corev1.Service, ip netip.Addr) (*corev1.Service, error) {
	if statusIs(svc, ip) {
		return svc, nil
	}
	svc = svc.DeepCopy()
	svc.Status.LoadBalancer = corev1.LoadBalancerStatus{}
	if ip.IsValid() {
		mode := corev1.LoadBalancerIPModeVIP
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip.String(), IPMode: &mode}}
	}
	updated, err := c.client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("update status of %s: %w", key(svc), err)
	}
	return updated, nil
}

// warn records a warning Event unless it repeats the last one for this Service.
func (c *controller) warn(svc *corev1.Service, reason, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	k := key(svc)
	if c.lastWarn[k] == reason+msg {
		return
	}
	c.lastWarn[k] = reason + msg
	c.log.Warn("load balancer problem", "service", k, "reason", reason, "message", msg)
	c.rec.Event(svc, corev1.EventTypeWarning, reason, msg)
}
