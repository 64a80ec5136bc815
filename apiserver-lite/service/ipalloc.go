package service

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IPAllocatorName is the managed-by label value of the IPAddress objects the allocator owns
// (ipallocator.ControllerName).
const IPAllocatorName = "ipallocator.k8s.io"

// IPAddressStore is how the allocator keeps IPAddress objects (networking.k8s.io/v1): one
// object per allocated cluster IP, named by the IP, labelled with
// ipaddress.kubernetes.io/ip-family and ipaddress.kubernetes.io/managed-by=ipallocator.k8s.io,
// with spec.parentRef pointing at the Service. The store is authoritative for conflicts.
type IPAddressStore interface {
	// Create stores ip; it returns an apierrors AlreadyExists error when the name is taken.
	Create(ctx context.Context, ip *networkingv1.IPAddress) error
	// Delete removes the named IPAddress; the caller tolerates NotFound.
	Delete(ctx context.Context, name string) error
	// List returns every IPAddress.
	List(ctx context.Context) ([]networkingv1.IPAddress, error)
}

// IP allocation errors, worded as kube-apiserver's ipallocator.
var (
	errIPRangeFull        = errors.New("range is full")
	errIPAllocated        = errors.New("provided IP is already allocated")
	errMismatchedNetwork  = errors.New("the provided network does not match the current range")
	errIPFamilyNotAllowed = errors.New("only IPv4 service CIDRs are supported")
)

type ipNotInRangeError struct {
	ip         netip.Addr
	validRange string
}

func (e *ipNotInRangeError) Error() string {
	return fmt.Sprintf("the provided IP (%v) is not in the valid range. The range of valid IPs is %s", e.ip, e.validRange)
}

// ipAllocator hands out IPv4 cluster IPs from one prefix, recording each as an IPAddress
// object. As upstream, the range is split at an offset: random allocation prefers the upper
// band and falls back to the lower one, which stays free for static requests (KEP-3070). The
// first address is never handed out at random: it belongs to the "kubernetes" Service.
type ipAllocator struct {
	store       IPAddressStore
	prefix      netip.Prefix
	first, last uint32 // usable addresses, inclusive
	rangeOffset uint32 // size of the lower band
	mu          sync.Mutex
	rand        *rand.Rand
}

func newIPAllocator(prefix netip.Prefix, store IPAddressStore, rnd *rand.Rand) (*ipAllocator, error) {
	prefix = prefix.Masked()
	if !prefix.Addr().Is4() {
		return nil, fmt.Errorf("service CIDR %s: %w", prefix, errIPFamilyNotAllowed)
	}
	if prefix.Bits() > 30 {
		return nil, fmt.Errorf("service CIDR %s is too small: it needs at least two usable addresses", prefix)
	}
	base := addrToUint(prefix.Addr())
	size := uint32(1) << (32 - prefix.Bits())
	return &ipAllocator{
		store:       store,
		prefix:      prefix,
		first:       base + 1,        // not the network address
		last:        base + size - 2, // not the broadcast address
		rangeOffset: ipRangeOffset(size),
		rand:        rnd,
	}, nil
}

// ipRangeOffset is min(max(16, size/16), 256), or 0 for ranges of 16 addresses or fewer.
func ipRangeOffset(size uint32) uint32 {
	const lo, hi, step = 16, 256, 16
	if size <= lo {
		return 0
	}
	return min(max(size/step, lo), hi)
}

func addrToUint(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func uintToAddr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

func (a *ipAllocator) family() corev1.IPFamily { return corev1.IPv4Protocol }

// check returns why addr cannot be allocated by this allocator, if it cannot. An address
// outside the service CIDR gets the message that names the range (kube-apiserver's
// single-range allocator's; its multi-CIDR allocator says only "the provided network does
// not match the current range", which leaves a learner guessing the range).
func (a *ipAllocator) checkRange(addr netip.Addr) error {
	if !addr.Is4() || !a.prefix.Contains(addr) {
		return &ipNotInRangeError{addr, a.prefix.String()}
	}
	if v := addrToUint(addr); v < a.first || v > a.last {
		return &ipNotInRangeError{addr, a.prefix.String()}
	}
	return nil
}

// allocate reserves addr for svc. In dry-run it only reports whether it could.
func (a *ipAllocator) allocate(ctx context.Context, svc *corev1.Service, addr netip.Addr, dryRun bool) error {
	if err := a.checkRange(addr); err != nil {
		return err
	}
	if dryRun {
		taken, err := a.taken(ctx)
		if err != nil {
			return err
		}
		if taken[addr.String()] {
			return errIPAllocated
		}
		return nil
	}
	return a.create(ctx, svc, addr)
}

func (a *ipAllocator) create(ctx context.Context, svc *corev1.Service, addr netip.Addr) error {
	err := a.store.Create(ctx, a.ipAddressFor(svc, addr))
	if apierrors.IsAlreadyExists(err) {
		return errIPAllocated
	}
	if err != nil {
		return fmt.Errorf("create IPAddress %s: %w", addr, err)
	}
	return nil
}

func (a *ipAllocator) ipAddressFor(svc *corev1.Service, addr netip.Addr) *networkingv1.IPAddress {
	return &networkingv1.IPAddress{
		ObjectMeta: metav1.ObjectMeta{
			Name: addr.String(),
			Labels: map[string]string{
				networkingv1.LabelIPAddressFamily: string(a.family()),
				networkingv1.LabelManagedBy:       IPAllocatorName,
			},
		},
		Spec: networkingv1.IPAddressSpec{
			ParentRef: &networkingv1.ParentReference{Group: "", Resource: "services", Namespace: svc.Namespace, Name: svc.Name},
		},
	}
}

func (a *ipAllocator) taken(ctx context.Context) (map[string]bool, error) {
	ips, err := a.store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list IPAddresses: %w", err)
	}
	out := make(map[string]bool, len(ips))
	for _, ip := range ips {
		out[ip.Name] = true
	}
	return out, nil
}

// next allocates a random free address for svc: first from the upper band, then from the
// lower band. In dry-run it returns a free address without reserving it.
func (a *ipAllocator) next(ctx context.Context, svc *corev1.Service, dryRun bool) (netip.Addr, error) {
	// One dynamic allocation at a time keeps racing creates from colliding on the same pick;
	// the store still arbitrates against static requests.
	a.mu.Lock()
	defer a.mu.Unlock()
	taken, err := a.taken(ctx)
	if err != nil {
		return netip.Addr{}, err
	}
	reserved := a.first // the "kubernetes" Service's address
	try := func(lo, hi uint32) (netip.Addr, bool, error) {
		if hi < lo {
			return netip.Addr{}, false, nil
		}
		n := uint64(hi-lo) + 1
		start := a.rand.Uint64N(n)
		for i := range n {
			v := lo + uint32((start+i)%n)
			addr := uintToAddr(v)
			if v == reserved || taken[addr.String()] {
				continue
			}
			if dryRun {
				return addr, true, nil
			}
			err := a.create(ctx, svc, addr)
			if errors.Is(err, errIPAllocated) {
				continue // lost a race; try the next one
			}
			if err != nil {
				return netip.Addr{}, false, err
			}
			return addr, true, nil
		}
		return netip.Addr{}, false, nil
	}
	upper := a.first + a.rangeOffset
	if addr, ok, err := try(upper, a.last); ok || err != nil {
		return addr, err
	}
	if addr, ok, err := try(a.first, upper-1); ok || err != nil {
		return addr, err
	}
	return netip.Addr{}, errIPRangeFull
}

// release deletes the IPAddress of addr; a missing object is not an error.
func (a *ipAllocator) release(ctx context.Context, addr netip.Addr) error {
	if !a.prefix.Contains(addr) {
		return errMismatchedNetwork
	}
	if err := a.store.Delete(ctx, addr.String()); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete IPAddress %s: %w", addr, err)
	}
	return nil
}
