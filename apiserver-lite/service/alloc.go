package service

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

var serviceKind = schema.GroupKind{Kind: "Service"}

// Txn is an allocation in progress: Commit after the Service was stored (deferred releases
// happen then), Revert if storing failed (new allocations are given back). Calling either a
// second time does nothing.
type Txn interface {
	Commit()
	Revert()
}

// Allocators allocates cluster IPs (as IPAddress objects) and node ports (in memory) for
// Services, as kube-apiserver's service REST storage does (storage/alloc.go). It is safe for
// concurrent use. Only single-stack IPv4 is supported.
type Allocators struct {
	ips   *ipAllocator
	ports *portAllocator
	log   *slog.Logger
}

// Option configures Allocators.
type Option func(*Allocators)

// WithLogger sets the logger (default: slog.Default()).
func WithLogger(log *slog.Logger) Option {
	return func(a *Allocators) { a.log = log }
}

// WithRand seeds the random choice of free IPs and ports from r (tests use a fixed seed).
// r is only used during NewAllocators.
func WithRand(r *rand.Rand) Option {
	return func(a *Allocators) {
		// Each allocator gets its own source: they are guarded by different locks.
		a.ips.rand = rand.New(rand.NewPCG(r.Uint64(), r.Uint64()))
		a.ports.rand = rand.New(rand.NewPCG(r.Uint64(), r.Uint64()))
	}
}

// NewAllocators returns allocators for the IPv4 serviceCIDR and the nodePorts range, keeping
// IPAddress objects in ips. Call Restore before the first allocation.
func NewAllocators(serviceCIDR netip.Prefix, nodePorts utilnet.PortRange, ips IPAddressStore, opts ...Option) (*Allocators, error) {
	if nodePorts.Size <= 0 {
		return nil, fmt.Errorf("node port range %q is empty", nodePorts.String())
	}
	newRand := func() *rand.Rand { return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())) }
	ipa, err := newIPAllocator(serviceCIDR, ips, newRand())
	if err != nil {
		return nil, err
	}
	a := &Allocators{ips: ipa, ports: newPortAllocator(nodePorts, newRand()), log: slog.Default()}
	for _, o := range opts {
		o(a)
	}
	a.log = a.log.With("component", "service-allocator")
	return a, nil
}

// AllocateCreate fills in and reserves what a new Service needs: ipFamilies/ipFamilyPolicy,
// cluster IPs (unless headless or ExternalName), node ports for NodePort and LoadBalancer
// (unless allocateLoadBalancerNodePorts is false; requested ports are always honoured) and a
// healthCheckNodePort for a LoadBalancer with externalTrafficPolicy Local. Call it from the
// store's BeginCreate hook, i.e. before the strategy validates. Errors are
// *apierrors.StatusError with kube-apiserver's messages. In dry-run nothing is reserved; unlike
// upstream (which shows the network address and never reports conflicts in dry-run), the
// result shows a free cluster IP and requested values that are taken are rejected.
func (a *Allocators) AllocateCreate(ctx context.Context, svc *corev1.Service, dryRun bool) (Txn, error) {
	normalizeClusterIPs(svc, nil)
	if err := a.initIPFamilyFields(svc, nil); err != nil {
		return nil, err
	}
	var result multiTxn
	ipTxn, err := a.txnAllocClusterIPs(ctx, svc, dryRun)
	if err != nil {
		return nil, err
	}
	result = append(result, ipTxn)
	portTxn, err := a.txnAllocNodePorts(svc, dryRun)
	if err != nil {
		result.Revert()
		return nil, err
	}
	return append(result, portTxn), nil
}

func (a *Allocators) txnAllocClusterIPs(ctx context.Context, svc *corev1.Service, dryRun bool) (Txn, error) {
	allocated, err := a.allocClusterIPs(ctx, svc, dryRun)
	if err != nil {
		return nil, err
	}
	return &callbackTxn{
		commit: func() {
			if !dryRun && len(allocated) > 0 {
				a.log.Debug("allocated clusterIPs", "service", svc.Namespace+"/"+svc.Name, "clusterIPs", allocated)
			}
		},
		revert: func() {
			if !dryRun {
				a.releaseIPs(context.WithoutCancel(ctx), allocated)
			}
		},
	}, nil
}

// allocClusterIPs allocates the IPs missing from clusterIPs, one per ipFamily, and returns
// what it allocated.
func (a *Allocators) allocClusterIPs(ctx context.Context, svc *corev1.Service, dryRun bool) ([]string, error) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, nil
	}
	if len(svc.Spec.ClusterIPs) > 0 && svc.Spec.ClusterIPs[0] == corev1.ClusterIPNone {
		return nil, nil
	}
	for len(svc.Spec.ClusterIPs) < len(svc.Spec.IPFamilies) {
		svc.Spec.ClusterIPs = append(svc.Spec.ClusterIPs, "")
	}
	var allocated []string
	for i := range svc.Spec.IPFamilies {
		ip, err := a.allocIP(ctx, svc, svc.Spec.ClusterIPs[i], dryRun)
		if err != nil {
			if !dryRun {
				a.releaseIPs(context.WithoutCancel(ctx), allocated)
			}
			return nil, err
		}
		allocated = append(allocated, ip)
	}
	copy(svc.Spec.ClusterIPs, allocated)
	if len(allocated) > 0 {
		svc.Spec.ClusterIP = allocated[0]
	}
	return allocated, nil
}

// allocIP allocates want, or any free IP when want is empty.
func (a *Allocators) allocIP(ctx context.Context, svc *corev1.Service, want string, dryRun bool) (string, error) {
	if want == "" {
		addr, err := a.ips.next(ctx, svc, dryRun)
		if err != nil {
			return "", apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: %w", err))
		}
		return addr.String(), nil
	}
	addr, ok := parseAddr(want)
	if !ok {
		return "", apierrors.NewInternalError(fmt.Errorf("failed to parse service IP %q", want))
	}
	if err := a.ips.allocate(ctx, svc, addr, dryRun); err != nil {
		el := field.ErrorList{field.Invalid(field.NewPath("spec", "clusterIPs"), svc.Spec.ClusterIPs, fmt.Sprintf("failed to allocate IP %v: %v", want, err))}
		return "", apierrors.NewInvalid(serviceKind, svc.Name, el)
	}
	return addr.String(), nil
}

// releaseIPs gives back cluster IPs; failures are logged (a restart repairs leaks).
func (a *Allocators) releaseIPs(ctx context.Context, ips []string) {
	for _, ip := range ips {
		addr, ok := parseAddr(ip)
		if !ok || !addr.Is4() {
			a.log.Info("not releasing clusterIP of an unconfigured family", "clusterIP", ip)
			continue
		}
		if err := a.ips.release(ctx, addr); err != nil {
			a.log.Error("release clusterIP", "clusterIP", ip, "err", err)
		}
	}
}

func (a *Allocators) txnAllocNodePorts(svc *corev1.Service, dryRun bool) (Txn, error) {
	op := &portOperation{pa: a.ports, dryRun: dryRun}
	if needsNodePort(svc) {
		if err := initNodePorts(svc, op); err != nil {
			op.Revert()
			return nil, err
		}
	}
	if needsHealthCheck(svc) {
		if err := allocHealthCheckNodePort(svc, op); err != nil {
			op.Revert()
			return nil, apierrors.NewInternalError(err)
		}
	}
	return op, nil
}

func initNodePorts(svc *corev1.Service, op *portOperation) error {
	svcPortToNodePort := map[int32]int32{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		if sp.NodePort == 0 && !shouldAllocateNodePorts(svc) {
			continue // don't allocate, but do respect specific requests
		}
		npPath := field.NewPath("spec", "ports").Index(i).Child("nodePort")
		allocated := svcPortToNodePort[sp.Port]
		if allocated == 0 {
			// Any earlier match would be in svcPortToNodePort: this looks for a
			// user-provided value later in the list.
			if np := findRequestedNodePort(sp.Port, svc.Spec.Ports); np != 0 {
				if err := op.allocate(int(np)); err != nil {
					return apierrors.NewInvalid(serviceKind, svc.Name, field.ErrorList{field.Invalid(npPath, np, err.Error())})
				}
				sp.NodePort = np
			} else {
				np, err := op.allocateNext()
				if err != nil {
					return apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: %w", err))
				}
				sp.NodePort = int32(np)
			}
			svcPortToNodePort[sp.Port] = sp.NodePort
		} else if sp.NodePort != allocated {
			// Same port number (another protocol): share the node port unless one was requested.
			if sp.NodePort == 0 {
				sp.NodePort = allocated
			} else if err := op.allocate(int(sp.NodePort)); err != nil {
				return apierrors.NewInvalid(serviceKind, svc.Name, field.ErrorList{field.Invalid(npPath, sp.NodePort, err.Error())})
			}
		}
	}
	return nil
}

func allocHealthCheckNodePort(svc *corev1.Service, op *portOperation) error {
	if hc := svc.Spec.HealthCheckNodePort; hc != 0 {
		if err := op.allocate(int(hc)); err != nil {
			return fmt.Errorf("failed to allocate requested HealthCheck NodePort %v: %w", hc, err)
		}
		return nil
	}
	hc, err := op.allocateNext()
	if err != nil {
		return fmt.Errorf("failed to allocate a HealthCheck NodePort %v: %w", hc, err)
	}
	svc.Spec.HealthCheckNodePort = int32(hc)
	return nil
}

// findRequestedNodePort returns the nodePort requested for port anywhere in ports, or 0.
func findRequestedNodePort(port int32, ports []corev1.ServicePort) int32 {
	for _, sp := range ports {
		if sp.Port == port && sp.NodePort != 0 {
			return sp.NodePort
		}
	}
	return 0
}

func shouldAllocateNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

func parseAddr(s string) (netip.Addr, bool) {
	ip := netutils.ParseIPSloppy(s)
	if ip == nil {
		return netip.Addr{}, false
	}
	addr, ok := netip.AddrFromSlice(ip)
	return addr.Unmap(), ok
}

// callbackTxn runs one of two callbacks, once.
type callbackTxn struct {
	commit, revert func()
	done           bool
}

func (t *callbackTxn) Commit() {
	if !t.done && t.commit != nil {
		t.commit()
	}
	t.done = true
}

func (t *callbackTxn) Revert() {
	if !t.done && t.revert != nil {
		t.revert()
	}
	t.done = true
}

// multiTxn commits or reverts its parts in order.
type multiTxn []Txn

func (m multiTxn) Commit() {
	for _, t := range m {
		t.Commit()
	}
}

func (m multiTxn) Revert() {
	for _, t := range m {
		t.Revert()
	}
}
