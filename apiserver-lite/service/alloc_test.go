package service_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	"github.com/svclab/svclab/apiserver-lite/service"
	"github.com/svclab/svclab/apiserver-lite/service/servicetest"
)

var _ service.IPAddressStore = (*servicetest.IPAddressStore)(nil)

func newAllocators(t *testing.T, cidr, ports string, store *servicetest.IPAddressStore) *service.Allocators {
	t.Helper()
	pr, err := utilnet.ParsePortRange(ports)
	if err != nil {
		t.Fatal(err)
	}
	a, err := service.NewAllocators(netip.MustParsePrefix(cidr), *pr, store,
		service.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		service.WithRand(rand.New(rand.NewPCG(1, 2))))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func defaultAllocators(t *testing.T) (*service.Allocators, *servicetest.IPAddressStore) {
	store := servicetest.NewIPAddressStore()
	return newAllocators(t, "10.96.0.0/12", "30000-32767", store), store
}

// create runs AllocateCreate and commits, failing the test on error.
func create(t *testing.T, a *service.Allocators, svc *corev1.Service) *corev1.Service {
	t.Helper()
	txn, err := a.AllocateCreate(context.Background(), svc, false)
	if err != nil {
		t.Fatalf("AllocateCreate(%s): %v", svc.Name, err)
	}
	txn.Commit()
	return svc
}

// update runs the update path of the store: BeginUpdate (AllocateUpdate), PrepareForUpdate,
// validation, then Commit.
func update(t *testing.T, a *service.Allocators, svc, old *corev1.Service) *corev1.Service {
	t.Helper()
	txn, err := a.AllocateUpdate(context.Background(), svc, old, false)
	if err != nil {
		t.Fatalf("AllocateUpdate: %v", err)
	}
	service.PrepareForUpdate(svc, old)
	svc.ResourceVersion, old.ResourceVersion = "1", "1"
	if errs := service.ValidateUpdate(svc, old); len(errs) != 0 {
		txn.Revert()
		t.Fatalf("ValidateUpdate: %v", errs.ToAggregate())
	}
	txn.Commit()
	return svc
}

func TestAllocateCreateClusterIP(t *testing.T) {
	a, store := defaultAllocators(t)
	svc := create(t, a, bare())

	ip := netip.MustParseAddr(svc.Spec.ClusterIP)
	if !netip.MustParsePrefix("10.96.1.1/12").Contains(ip) || ip.Less(netip.MustParseAddr("10.96.1.1")) {
		t.Errorf("clusterIP %s: want a random address from the upper band 10.96.1.1-10.111.255.254", ip)
	}
	if diff := cmp.Diff([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs); diff != "" {
		t.Errorf("clusterIPs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]corev1.IPFamily{corev1.IPv4Protocol}, svc.Spec.IPFamilies); diff != "" {
		t.Errorf("ipFamilies (-want +got):\n%s", diff)
	}
	if p := svc.Spec.IPFamilyPolicy; p == nil || *p != corev1.IPFamilyPolicySingleStack {
		t.Errorf("ipFamilyPolicy = %v, want SingleStack", p)
	}
	got, ok := store.Get(svc.Spec.ClusterIP)
	if !ok {
		t.Fatalf("no IPAddress %s in %v", svc.Spec.ClusterIP, store.Names())
	}
	want := networkingv1.IPAddress{
		ObjectMeta: metav1.ObjectMeta{Name: svc.Spec.ClusterIP, Labels: map[string]string{
			"ipaddress.kubernetes.io/ip-family":  "IPv4",
			"ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io",
		}},
		Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Resource: "services", Namespace: "default", Name: "web"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("IPAddress (-want +got):\n%s", diff)
	}
	svc.ResourceVersion = ""
	if errs := service.Validate(svc); len(errs) != 0 {
		t.Errorf("allocated Service does not validate: %v", errs.ToAggregate())
	}
}

func TestAllocateCreateErrors(t *testing.T) {
	a, _ := defaultAllocators(t)
	create(t, a, bare(func(s *corev1.Service) { s.Name = "dns"; s.Spec.ClusterIP = "10.96.0.10" }))
	create(t, a, bare(func(s *corev1.Service) {
		s.Name = "np"
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 30080
	}))
	nodePort := func(port int32) func(*corev1.Service) {
		return func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort; s.Spec.Ports[0].NodePort = port }
	}
	clusterIP := func(ip string) func(*corev1.Service) { return func(s *corev1.Service) { s.Spec.ClusterIP = ip } }
	tests := []struct {
		name string
		svc  *corev1.Service
		want string
	}{
		{"clusterIP outside the service CIDR", bare(clusterIP("10.0.0.5")),
			`Service "web" is invalid: spec.clusterIPs: Invalid value: ["10.0.0.5"]: failed to allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.96.0.0/12`},
		{"clusterIP is the broadcast address", bare(clusterIP("10.111.255.255")),
			`Service "web" is invalid: spec.clusterIPs: Invalid value: ["10.111.255.255"]: failed to allocate IP 10.111.255.255: the provided IP (10.111.255.255) is not in the valid range. The range of valid IPs is 10.96.0.0/12`},
		{"clusterIP already allocated", bare(clusterIP("10.96.0.10")),
			`Service "web" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.10"]: failed to allocate IP 10.96.0.10: provided IP is already allocated`},
		{"nodePort outside the range", bare(nodePort(80)),
			`Service "web" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767`},
		{"nodePort already allocated", bare(nodePort(30080)),
			`Service "web" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated`},
		{"IPv6 family on an IPv4 cluster", bare(func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} }),
			`Service "web" is invalid: spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster`},
		{"IPv6 clusterIP on an IPv4 cluster", bare(clusterIP("fd00::10")),
			`Service "web" is invalid: spec.clusterIPs[0]: Invalid value: ["fd00::10"]: IPv6 is not configured on this cluster`},
		{"RequireDualStack on a single-stack cluster", bare(func(s *corev1.Service) { s.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicyRequireDualStack) }),
			`Service "web" is invalid: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services`},
		{"SingleStack with two families", bare(func(s *corev1.Service) {
			s.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicySingleStack)
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
		}), `Service "web" is invalid: spec.ipFamilyPolicy: Invalid value: "SingleStack": must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			txn, err := a.AllocateCreate(context.Background(), tt.svc, false)
			if got := errString(err); got != tt.want {
				t.Errorf("AllocateCreate() error =\n%s\nwant\n%s", got, tt.want)
			}
			if txn != nil {
				t.Errorf("got a transaction with an error")
			}
		})
	}
}

func TestAllocateCreateFailureReleasesIP(t *testing.T) {
	a, store := defaultAllocators(t)
	create(t, a, bare(func(s *corev1.Service) {
		s.Name = "np"
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 30080
	}))
	before := store.Names()
	_, err := a.AllocateCreate(context.Background(), bare(func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 30080
	}), false)
	if err == nil {
		t.Fatal("AllocateCreate succeeded with a taken nodePort")
	}
	if diff := cmp.Diff(before, store.Names()); diff != "" {
		t.Errorf("cluster IP leaked after a failed create (-want +got):\n%s", diff)
	}
}

func TestAllocateCreateNodePorts(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		// check inspects the allocated Service.
		check func(t *testing.T, svc *corev1.Service)
	}{{
		name: "NodePort gets ports from the upper band",
		svc: bare(withType(corev1.ServiceTypeNodePort), func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "https", Port: 443})
		}),
		check: func(t *testing.T, svc *corev1.Service) {
			for i, p := range svc.Spec.Ports {
				// 30000-32767 has 2768 ports; the lower band is the first 2768/32 = 86.
				if p.NodePort < 30086 || p.NodePort > 32767 {
					t.Errorf("ports[%d].nodePort = %d, want 30086-32767", i, p.NodePort)
				}
			}
			if svc.Spec.Ports[0].NodePort == svc.Spec.Ports[1].NodePort {
				t.Errorf("two ports share nodePort %d", svc.Spec.Ports[0].NodePort)
			}
		},
	}, {
		name: "same port on TCP and UDP shares one nodePort",
		svc: bare(withType(corev1.ServiceTypeNodePort), func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, NodePort: 30053}}
		}),
		check: func(t *testing.T, svc *corev1.Service) {
			if a, b := svc.Spec.Ports[0].NodePort, svc.Spec.Ports[1].NodePort; a != 30053 || b != 30053 {
				t.Errorf("nodePorts = %d, %d; want 30053 twice", a, b)
			}
		},
	}, {
		name: "LoadBalancer without node ports",
		svc:  bare(withType(corev1.ServiceTypeLoadBalancer), func(s *corev1.Service) { s.Spec.AllocateLoadBalancerNodePorts = ptr(false) }),
		check: func(t *testing.T, svc *corev1.Service) {
			if np := svc.Spec.Ports[0].NodePort; np != 0 {
				t.Errorf("nodePort = %d, want none", np)
			}
		},
	}, {
		name: "LoadBalancer with externalTrafficPolicy Local gets a healthCheckNodePort",
		svc: bare(withType(corev1.ServiceTypeLoadBalancer), func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}),
		check: func(t *testing.T, svc *corev1.Service) {
			if svc.Spec.HealthCheckNodePort == 0 || svc.Spec.HealthCheckNodePort == svc.Spec.Ports[0].NodePort {
				t.Errorf("healthCheckNodePort = %d, nodePort = %d", svc.Spec.HealthCheckNodePort, svc.Spec.Ports[0].NodePort)
			}
		},
	}, {
		name: "headless Service gets no IP",
		svc:  bare(func(s *corev1.Service) { s.Spec.ClusterIP = "None" }),
		check: func(t *testing.T, svc *corev1.Service) {
			if diff := cmp.Diff([]string{"None"}, svc.Spec.ClusterIPs); diff != "" {
				t.Errorf("clusterIPs (-want +got):\n%s", diff)
			}
		},
	}, {
		name: "headless selectorless Service requires dual-stack families, as upstream",
		svc:  bare(func(s *corev1.Service) { s.Spec.ClusterIP = "None"; s.Spec.Selector = nil }),
		check: func(t *testing.T, svc *corev1.Service) {
			if diff := cmp.Diff([]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, svc.Spec.IPFamilies); diff != "" {
				t.Errorf("ipFamilies (-want +got):\n%s", diff)
			}
			if p := svc.Spec.IPFamilyPolicy; p == nil || *p != corev1.IPFamilyPolicyRequireDualStack {
				t.Errorf("ipFamilyPolicy = %v, want RequireDualStack", p)
			}
		},
	}, {
		name: "ExternalName gets nothing",
		svc: bare(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName, s.Spec.InternalTrafficPolicy = corev1.ServiceTypeExternalName, "example.com", nil
		}),
		check: func(t *testing.T, svc *corev1.Service) {
			if svc.Spec.ClusterIP != "" || svc.Spec.IPFamilies != nil || svc.Spec.IPFamilyPolicy != nil {
				t.Errorf("ExternalName got cluster IP fields: %+v", svc.Spec)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := defaultAllocators(t)
			svc := create(t, a, tt.svc)
			tt.check(t, svc)
			if errs := service.Validate(svc); len(errs) != 0 {
				t.Errorf("allocated Service does not validate: %v", errs.ToAggregate())
			}
		})
	}
}

func TestDryRunAllocatesNothing(t *testing.T) {
	a, store := defaultAllocators(t)
	svc := bare(withType(corev1.ServiceTypeLoadBalancer), func(s *corev1.Service) {
		s.Spec.ClusterIP = "10.96.0.50"
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.Ports[0].NodePort = 30080
	})
	txn, err := a.AllocateCreate(context.Background(), svc, true)
	if err != nil {
		t.Fatal(err)
	}
	txn.Commit()
	if svc.Spec.HealthCheckNodePort == 0 {
		t.Errorf("dry-run did not fill in healthCheckNodePort")
	}
	if store.Creates != 0 {
		t.Errorf("dry-run created %d IPAddress objects", store.Creates)
	}
	// Everything the dry-run showed is still free.
	create(t, a, bare(withType(corev1.ServiceTypeNodePort), func(s *corev1.Service) {
		s.Spec.ClusterIP = "10.96.0.50"
		s.Spec.Ports[0].NodePort = 30080
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "hc", Port: 10256, NodePort: svc.Spec.HealthCheckNodePort})
	}))
	// A dry-run still reports conflicts.
	_, err = a.AllocateCreate(context.Background(), bare(func(s *corev1.Service) { s.Name = "other"; s.Spec.ClusterIP = "10.96.0.50" }), true)
	want := `Service "other" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.50"]: failed to allocate IP 10.96.0.50: provided IP is already allocated`
	if errString(err) != want {
		t.Errorf("dry-run conflict error =\n%s\nwant\n%s", errString(err), want)
	}
}

func TestReleaseOnDelete(t *testing.T) {
	a, store := defaultAllocators(t)
	svc := create(t, a, bare(withType(corev1.ServiceTypeLoadBalancer), func(s *corev1.Service) {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.Ports[0].NodePort = 30080
		s.Spec.HealthCheckNodePort = 30081
	}))
	a.Release(context.Background(), svc)
	if names := store.Names(); len(names) != 0 {
		t.Errorf("IPAddresses left after delete: %v", names)
	}
	// The same values can be allocated again.
	create(t, a, bare(withType(corev1.ServiceTypeLoadBalancer), func(s *corev1.Service) {
		s.Spec.ClusterIP = svc.Spec.ClusterIP
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.Ports[0].NodePort = 30080
		s.Spec.HealthCheckNodePort = 30081
	}))
}

func TestTypeChanges(t *testing.T) {
	a, store := defaultAllocators(t)
	ctx := context.Background()
	v1 := create(t, a, bare())
	ip := v1.Spec.ClusterIP

	// ClusterIP -> NodePort: node port allocated, cluster IP kept. The client sends the
	// original manifest (no clusterIP): it is patched in.
	v2 := update(t, a, bare(withType(corev1.ServiceTypeNodePort)), v1.DeepCopy())
	np := v2.Spec.Ports[0].NodePort
	if v2.Spec.ClusterIP != ip || np == 0 {
		t.Fatalf("NodePort: clusterIP %q (want %q), nodePort %d", v2.Spec.ClusterIP, ip, np)
	}

	// NodePort -> ExternalName: IP and node port released on commit.
	v3 := update(t, a, func() *corev1.Service {
		s := v2.DeepCopy()
		s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
		s.Spec.InternalTrafficPolicy = nil
		return s
	}(), v2.DeepCopy())
	if v3.Spec.ClusterIP != "" || v3.Spec.Ports[0].NodePort != 0 || v3.Spec.IPFamilies != nil {
		t.Fatalf("ExternalName kept allocations: %+v", v3.Spec)
	}
	if names := store.Names(); len(names) != 0 {
		t.Errorf("IPAddresses after switching to ExternalName: %v", names)
	}
	// The node port is free again.
	create(t, a, bare(func(s *corev1.Service) {
		s.Name = "reuse"
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = np
	}))

	// ExternalName -> ClusterIP: a new IP is allocated.
	v4 := update(t, a, func() *corev1.Service {
		s := v3.DeepCopy()
		s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeClusterIP, ""
		service.SetDefaults(s)
		return s
	}(), v3.DeepCopy())
	if v4.Spec.ClusterIP == "" || len(v4.Spec.IPFamilies) != 1 {
		t.Fatalf("ClusterIP after ExternalName: %+v", v4.Spec)
	}
	if _, ok := store.Get(v4.Spec.ClusterIP); !ok {
		t.Errorf("no IPAddress for %s", v4.Spec.ClusterIP)
	}

	// A failed update gives back what it allocated and keeps what it would have released.
	txn, err := a.AllocateUpdate(ctx, bare(withType(corev1.ServiceTypeNodePort)), v4.DeepCopy(), false)
	if err != nil {
		t.Fatal(err)
	}
	txn.Revert()
	create(t, a, bare(func(s *corev1.Service) { s.Name = "after-revert"; s.Spec.ClusterIP = "10.96.0.77" }))
	if _, ok := store.Get(v4.Spec.ClusterIP); !ok {
		t.Errorf("reverted update released %s", v4.Spec.ClusterIP)
	}
}

func TestUpdateChangingClusterIPIsRejected(t *testing.T) {
	a, _ := defaultAllocators(t)
	old := create(t, a, bare(func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.20" }))
	svc := old.DeepCopy()
	svc.Spec.ClusterIP = "10.96.0.21" // an old client edits only the singular field
	txn, err := a.AllocateUpdate(context.Background(), svc, old.DeepCopy(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Revert()
	service.PrepareForUpdate(svc, old)
	svc.ResourceVersion, old.ResourceVersion = "1", "1"
	want := `spec.clusterIPs[0]: Invalid value: ["10.96.0.21"]: may not change once set`
	if got := errString(service.ValidateUpdate(svc, old).ToAggregate()); got != want {
		t.Errorf("ValidateUpdate() =\n%s\nwant\n%s", got, want)
	}
}

func TestRestoreAfterRestart(t *testing.T) {
	store := servicetest.NewIPAddressStore()
	a := newAllocators(t, "10.96.0.0/12", "30000-32767", store)
	np := create(t, a, bare(func(s *corev1.Service) { s.Name = "np"; s.Spec.Type = corev1.ServiceTypeNodePort }))
	lb := create(t, a, bare(withType(corev1.ServiceTypeLoadBalancer), func(s *corev1.Service) {
		s.Name = "lb"
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}))
	// Damage the store: one IP lost, one leaked.
	if err := store.Delete(context.Background(), lb.Spec.ClusterIP); err != nil {
		t.Fatal(err)
	}
	create(t, a, bare(func(s *corev1.Service) { s.Name = "gone"; s.Spec.ClusterIP = "10.96.0.99" }))

	// Restart: fresh allocators over the same store.
	b := newAllocators(t, "10.96.0.0/12", "30000-32767", store)
	if err := b.Restore(context.Background(), []corev1.Service{*np, *lb}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sortedStrings(np.Spec.ClusterIP, lb.Spec.ClusterIP), store.Names()); diff != "" {
		t.Errorf("IPAddresses after restore (-want +got):\n%s", diff)
	}
	for _, port := range []int32{np.Spec.Ports[0].NodePort, lb.Spec.Ports[0].NodePort, lb.Spec.HealthCheckNodePort} {
		_, err := b.AllocateCreate(context.Background(), bare(func(s *corev1.Service) {
			s.Name = "again"
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = port
		}), false)
		if want := "provided port is already allocated"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("nodePort %d after restart: err = %v, want %q", port, err, want)
		}
	}
	_, err := b.AllocateCreate(context.Background(), bare(func(s *corev1.Service) { s.Name = "again"; s.Spec.ClusterIP = lb.Spec.ClusterIP }), false)
	if want := "provided IP is already allocated"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("repaired clusterIP: err = %v, want %q", err, want)
	}
}

func TestExhaustion(t *testing.T) {
	// 10.96.0.0/29: .1-.6 usable, .1 kept for the kubernetes Service; ports 30000-30002.
	a := newAllocators(t, "10.96.0.0/29", "30000-30002", servicetest.NewIPAddressStore())
	seen := map[string]bool{}
	for i := range 5 {
		svc := create(t, a, bare(func(s *corev1.Service) { s.Name = "s" + string(rune('a'+i)) }))
		if svc.Spec.ClusterIP == "10.96.0.1" || seen[svc.Spec.ClusterIP] {
			t.Errorf("allocated %s (seen: %v)", svc.Spec.ClusterIP, seen)
		}
		seen[svc.Spec.ClusterIP] = true
	}
	_, err := a.AllocateCreate(context.Background(), bare(), false)
	if want := "Internal error occurred: failed to allocate a serviceIP: range is full"; errString(err) != want {
		t.Errorf("IP exhaustion error =\n%s\nwant\n%s", errString(err), want)
	}
	// The reserved address can still be requested explicitly.
	create(t, a, bare(func(s *corev1.Service) { s.Name = "kubernetes"; s.Spec.ClusterIP = "10.96.0.1" }))

	b := newAllocators(t, "10.96.0.0/24", "30000-30002", servicetest.NewIPAddressStore())
	create(t, b, bare(withType(corev1.ServiceTypeNodePort), func(s *corev1.Service) {
		s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 1}, {Name: "b", Port: 2}, {Name: "c", Port: 3}}
	}))
	_, err = b.AllocateCreate(context.Background(), bare(func(s *corev1.Service) { s.Name = "more"; s.Spec.Type = corev1.ServiceTypeNodePort }), false)
	if want := "Internal error occurred: failed to allocate a nodePort: range is full"; errString(err) != want {
		t.Errorf("port exhaustion error =\n%s\nwant\n%s", errString(err), want)
	}
}

func TestConcurrentAllocation(t *testing.T) {
	a := newAllocators(t, "10.96.0.0/26", "30000-30099", servicetest.NewIPAddressStore())
	const n = 40
	ips, ports := make([]string, n), make([]int32, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc := bare(withType(corev1.ServiceTypeNodePort))
			txn, err := a.AllocateCreate(context.Background(), svc, false)
			if err != nil {
				t.Error(err)
				return
			}
			txn.Commit()
			ips[i], ports[i] = svc.Spec.ClusterIP, svc.Spec.Ports[0].NodePort
		}()
	}
	wg.Wait()
	seenIP, seenPort := map[string]bool{}, map[int32]bool{}
	for i := range n {
		if seenIP[ips[i]] || seenPort[ports[i]] {
			t.Errorf("allocated twice: %s / %d", ips[i], ports[i])
		}
		seenIP[ips[i]], seenPort[ports[i]] = true, true
	}
}

func TestNewAllocatorsRejectsIPv6(t *testing.T) {
	pr, _ := utilnet.ParsePortRange("30000-32767")
	_, err := service.NewAllocators(netip.MustParsePrefix("fd00::/108"), *pr, servicetest.NewIPAddressStore())
	if want := "service CIDR fd00::/108: only IPv4 service CIDRs are supported"; errString(err) != want {
		t.Errorf("error = %q, want %q", errString(err), want)
	}
}

func TestDefaultServiceCIDR(t *testing.T) {
	got := service.DefaultServiceCIDR(netip.MustParsePrefix("10.96.0.0/12"))
	if got.Name != "kubernetes" || !cmp.Equal(got.Spec.CIDRs, []string{"10.96.0.0/12"}) {
		t.Errorf("ServiceCIDR = %s %v", got.Name, got.Spec.CIDRs)
	}
	if len(got.Status.Conditions) != 1 || got.Status.Conditions[0].Type != "Ready" || got.Status.Conditions[0].Status != metav1.ConditionTrue {
		t.Errorf("conditions = %+v, want Ready=True", got.Status.Conditions)
	}
}

func sortedStrings(s ...string) []string {
	return slices.Sorted(slices.Values(s))
}
