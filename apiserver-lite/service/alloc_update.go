package service

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// AllocateUpdate reconciles allocations for an update from old to svc, as upstream's
// allocateUpdate: it first patches in values allocated earlier that the client omitted and
// keeps clusterIP/clusterIPs in step, then allocates cluster IPs when leaving ExternalName
// (releasing them on Commit when switching to ExternalName), allocates or releases node ports
// on type changes and new or removed ports, and handles healthCheckNodePort. Call it from the
// store's BeginUpdate hook with the stored object as old.
func (a *Allocators) AllocateUpdate(ctx context.Context, svc, old *corev1.Service, dryRun bool) (Txn, error) {
	patchAllocatedValues(svc, old)
	normalizeClusterIPs(svc, old)
	if err := a.initIPFamilyFields(svc, old); err != nil {
		return nil, err
	}
	var result multiTxn
	ipTxn, err := a.txnUpdateClusterIPs(ctx, svc, old, dryRun)
	if err != nil {
		return nil, err
	}
	result = append(result, ipTxn)
	portTxn, err := a.txnUpdateNodePorts(svc, old, dryRun)
	if err != nil {
		result.Revert()
		return nil, err
	}
	return append(result, portTxn), nil
}

func (a *Allocators) txnUpdateClusterIPs(ctx context.Context, svc, old *corev1.Service, dryRun bool) (Txn, error) {
	var allocated, toRelease []string
	switch {
	case isMatchingPreferDualStack(svc, old):
	case old.Spec.Type == corev1.ServiceTypeExternalName && svc.Spec.Type != corev1.ServiceTypeExternalName:
		ips, err := a.allocClusterIPs(ctx, svc, dryRun)
		if err != nil {
			return nil, err
		}
		allocated = ips
	case len(old.Spec.ClusterIPs) > 0 && old.Spec.ClusterIPs[0] == corev1.ClusterIPNone:
		// Headless: nothing to manage.
	case old.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.Type == corev1.ServiceTypeExternalName:
		toRelease = old.Spec.ClusterIPs
	}
	// Dual-stack upgrades and downgrades cannot happen on this single-stack cluster:
	// initIPFamilyFields rejects a second family.
	return &callbackTxn{
		commit: func() {
			if dryRun {
				return
			}
			if len(allocated) > 0 {
				a.log.Debug("allocated clusterIPs", "service", svc.Namespace+"/"+svc.Name, "clusterIPs", allocated)
			}
			a.releaseIPs(context.WithoutCancel(ctx), toRelease)
		},
		revert: func() {
			if !dryRun {
				a.releaseIPs(context.WithoutCancel(ctx), allocated)
			}
		},
	}, nil
}

func (a *Allocators) txnUpdateNodePorts(svc, old *corev1.Service, dryRun bool) (Txn, error) {
	op := &portOperation{pa: a.ports, dryRun: dryRun}
	if needsNodePort(old) && !needsNodePort(svc) {
		for _, p := range collectNodePorts(old) {
			op.releaseLater(p)
		}
	}
	if needsNodePort(svc) {
		if err := updateNodePorts(svc, old, op); err != nil {
			op.Revert()
			return nil, err
		}
	}
	needed, needs := needsHealthCheck(old), needsHealthCheck(svc)
	switch {
	case !needed && needs:
		if err := allocHealthCheckNodePort(svc, op); err != nil {
			op.Revert()
			return nil, apierrors.NewInternalError(err)
		}
	case needed && !needs:
		op.releaseLater(int(old.Spec.HealthCheckNodePort))
	}
	return op, nil
}

func updateNodePorts(svc, old *corev1.Service, op *portOperation) error {
	oldPorts := collectNodePorts(old)
	type protoPort struct {
		protocol corev1.Protocol
		port     int32
	}
	var seen []protoPort
	allocatedHere := map[int]bool{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		if sp.NodePort == 0 && !shouldAllocateNodePorts(svc) {
			continue // don't allocate, but do respect specific requests
		}
		if sp.NodePort != 0 {
			np := int(sp.NodePort)
			if !containsInt(oldPorts, np) && !allocatedHere[np] {
				if err := op.allocate(np); err != nil {
					el := field.ErrorList{field.Invalid(field.NewPath("spec", "ports").Index(i).Child("nodePort"), sp.NodePort, err.Error())}
					return apierrors.NewInvalid(serviceKind, svc.Name, el)
				}
				allocatedHere[np] = true
			}
		} else {
			np, err := op.allocateNext()
			if err != nil {
				return apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: %w", err))
			}
			sp.NodePort = int32(np)
		}
		key := protoPort{sp.Protocol, sp.NodePort}
		for _, s := range seen {
			if s == key {
				return fmt.Errorf("duplicate nodePort: {%s %d}", key.protocol, key.port)
			}
		}
		seen = append(seen, key)
	}
	newPorts := collectNodePorts(svc)
	for _, p := range oldPorts {
		if !containsInt(newPorts, p) {
			op.releaseLater(p)
		}
	}
	return nil
}

// Release gives back everything svc holds (cluster IPs, node ports, healthCheckNodePort);
// call it after the Service was deleted. Failures are logged: Restore repairs leaks.
func (a *Allocators) Release(ctx context.Context, svc *corev1.Service) {
	if needsClusterIP(svc) && !isHeadless(svc) && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		a.releaseIPs(ctx, svc.Spec.ClusterIPs)
	}
	for _, p := range collectNodePorts(svc) {
		a.ports.release(p)
	}
	if needsHealthCheck(svc) && svc.Spec.HealthCheckNodePort > 0 {
		a.ports.release(int(svc.Spec.HealthCheckNodePort))
	}
}

// Restore rebuilds the allocator state from the stored Services at start-up: the node-port
// bitmap is refilled (so nothing is handed out twice after a restart), an IPAddress object is
// created for every cluster IP in range that lacks one, and IPAddress objects this allocator
// manages that no Service uses any more are deleted. Conflicts found in the stored data (a
// port or IP claimed by two Services) are logged, as upstream's repair controllers report them.
func (a *Allocators) Restore(ctx context.Context, services []corev1.Service) error {
	a.ports.reset()
	owner := map[int]string{}
	for i := range services {
		svc := &services[i]
		name := svc.Namespace + "/" + svc.Name
		ports := collectNodePorts(svc)
		if svc.Spec.HealthCheckNodePort != 0 {
			ports = append(ports, int(svc.Spec.HealthCheckNodePort))
		}
		for _, p := range ports {
			if prev, ok := owner[p]; ok {
				if prev != name {
					a.log.Warn("node port assigned to multiple services; recreate one of them", "nodePort", p, "service", name, "other", prev)
				}
				continue
			}
			owner[p] = name
			var notInRange *portNotInRangeError
			if err := a.ports.allocate(p); errors.As(err, &notInRange) {
				a.log.Warn("node port is not in the node port range", "nodePort", p, "service", name, "range", a.ports.pr.String())
			}
		}
	}
	return a.restoreIPs(ctx, services)
}

func (a *Allocators) restoreIPs(ctx context.Context, services []corev1.Service) error {
	stored, err := a.ips.store.List(ctx)
	if err != nil {
		return fmt.Errorf("restore cluster IPs: %w", err)
	}
	byName := make(map[string]*networkingv1.IPAddress, len(stored))
	for i := range stored {
		byName[stored[i].Name] = &stored[i]
	}
	inUse := map[string]bool{}
	for i := range services {
		svc := &services[i]
		if !needsClusterIP(svc) || isHeadless(svc) {
			continue
		}
		for _, ip := range svc.Spec.ClusterIPs {
			addr, ok := parseAddr(ip)
			if !ok {
				continue
			}
			name := addr.String()
			inUse[name] = true
			if err := a.ips.checkRange(addr); err != nil {
				a.log.Warn("cluster IP is not within the service CIDR", "clusterIP", ip, "service", svc.Namespace+"/"+svc.Name, "cidr", a.ips.prefix.String())
				continue
			}
			if obj, ok := byName[name]; ok {
				if ref := obj.Spec.ParentRef; ref == nil || ref.Resource != "services" || ref.Namespace != svc.Namespace || ref.Name != svc.Name {
					a.log.Warn("cluster IP was assigned to multiple services; recreate one of them", "clusterIP", ip, "service", svc.Namespace+"/"+svc.Name)
				}
				continue
			}
			a.log.Info("cluster IP is not allocated; repairing", "clusterIP", ip, "service", svc.Namespace+"/"+svc.Name)
			if err := a.ips.create(ctx, svc, addr); err != nil && !errors.Is(err, errIPAllocated) {
				return fmt.Errorf("restore cluster IP %s of %s/%s: %w", ip, svc.Namespace, svc.Name, err)
			}
		}
	}
	for name, obj := range byName {
		if inUse[name] || obj.Labels[networkingv1.LabelManagedBy] != IPAllocatorName {
			continue
		}
		a.log.Info("releasing leaked cluster IP", "clusterIP", name)
		if err := a.ips.store.Delete(ctx, name); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("release leaked cluster IP %s: %w", name, err)
		}
	}
	return nil
}

func collectNodePorts(svc *corev1.Service) []int {
	var out []int
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			out = append(out, int(p.NodePort))
		}
	}
	return out
}

func containsInt(haystack []int, needle int) bool {
	for _, v := range haystack {
		if v == needle {
			return true
		}
	}
	return false
}
