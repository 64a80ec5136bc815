package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/svclab/svclab/lab/cloud"
	"github.com/svclab/svclab/lab/cloud/cloudtest"
)

// Test address plan: node network 172.30.0.0/24 (nodes a, b, c at .11, .12, .13), pool
// 172.30.1.0/24 (the first address handed out is .2).
var pool = netip.MustParsePrefix("172.30.1.0/24")

type fixture struct {
	t      *testing.T
	client kubernetes.Interface
	routes *cloudtest.Routes
	rec    *record.FakeRecorder

	mu     sync.Mutex
	events []string
}

// start runs the cloud over a fake clientset holding objs until the test ends.
func start(t *testing.T, routes *cloudtest.Routes, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{t: t, client: fake.NewClientset(objs...), routes: routes, rec: record.NewFakeRecorder(1000)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- cloud.Run(ctx, f.client, cloud.Options{Pool: pool, Routes: routes, Recorder: f.rec})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return f
}

// eventually polls cond for up to 5 s; cond returns "" when satisfied, else what is wrong.
func (f *fixture) eventually(cond func() string) {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatal(msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Events returns every event recorded so far ("Normal EnsuringLoadBalancer Ensuring ...").
func (f *fixture) Events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		select {
		case e := <-f.rec.Events:
			f.events = append(f.events, e)
		default:
			return slices.Clone(f.events)
		}
	}
}

func (f *fixture) svc(name string) *corev1.Service {
	svc, err := f.client.CoreV1().Services("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return svc
}

func ingress(svc *corev1.Service) string {
	var ips []string
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		mode := "<nil>"
		if ing.IPMode != nil {
			mode = string(*ing.IPMode)
		}
		ips = append(ips, ing.IP+"/"+mode)
	}
	return strings.Join(ips, ",")
}

// waitIngress waits until Service name's ingress reads want ("172.30.1.2/VIP", or "").
func (f *fixture) waitIngress(name, want string) {
	f.t.Helper()
	f.eventually(func() string {
		if got := ingress(f.svc(name)); got != want {
			return fmt.Sprintf("service %s ingress = %q, want %q", name, got, want)
		}
		return ""
	})
}

// waitTable waits until the fake's routes are want, in any order.
func (f *fixture) waitTable(want ...string) {
	f.t.Helper()
	slices.Sort(want)
	f.eventually(func() string {
		got := f.routes.Table()
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return fmt.Sprintf("routes:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		return ""
	})
}

func (f *fixture) waitEvent(want string) {
	f.t.Helper()
	f.eventually(func() string {
		ev := f.Events()
		for _, e := range ev {
			if strings.HasPrefix(e, want) {
				return ""
			}
		}
		return fmt.Sprintf("no event %q in:\n  %s", want, strings.Join(ev, "\n  "))
	})
}

func (f *fixture) create(obj runtime.Object) {
	f.t.Helper()
	ctx := context.Background()
	var err error
	switch o := obj.(type) {
	case *corev1.Service:
		_, err = f.client.CoreV1().Services(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *corev1.Node:
		_, err = f.client.CoreV1().Nodes().Create(ctx, o, metav1.CreateOptions{})
	case *discoveryv1.EndpointSlice:
		_, err = f.client.DiscoveryV1().EndpointSlices(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	}
	if err != nil {
		f.t.Fatal(err)
	}
}

func lbService(name string, mutate ...func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: metav1.Now()},
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
			Selector:              map[string]string{"app": name},
			Ports:                 []corev1.ServicePort{{Port: 80, NodePort: 30080}},
		},
	}
	for _, m := range mutate {
		m(svc)
	}
	return svc
}

func node(name, ip string, ready bool) *corev1.Node {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
		},
	}
}

func threeNodes() []runtime.Object {
	return []runtime.Object{node("a", "172.30.0.11", true), node("b", "172.30.0.12", true), node("c", "172.30.0.13", true)}
}

// slice is an EndpointSlice of service with one endpoint per "node=ready" pair.
func slice(service string, eps ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: service + "-x", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for i, ep := range eps {
		n, ready, _ := strings.Cut(ep, "=")
		r := ready == "true"
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{fmt.Sprintf("10.244.0.%d", i+2)},
			NodeName:   &n,
			Conditions: discoveryv1.EndpointConditions{Ready: &r},
		})
	}
	return s
}

const poolRoute = "unreachable 172.30.1.0/24"

func TestAllocatesAddressRoutesAndRecordsEvents(t *testing.T) {
	f := start(t, cloudtest.NewRoutes(), append(threeNodes(), lbService("web"))...)
	f.waitIngress("web", "172.30.1.2/VIP")
	f.waitTable("172.30.1.2/32 via 172.30.0.11 via 172.30.0.12 via 172.30.0.13", poolRoute)
	if fin := f.svc("web").Finalizers; !slices.Equal(fin, []string{cloud.Finalizer}) {
		t.Errorf("finalizers = %v, want [%s]", fin, cloud.Finalizer)
	}
	f.waitEvent("Normal EnsuredLoadBalancer Ensured load balancer")
	want := []string{"Normal EnsuringLoadBalancer Ensuring load balancer", "Normal EnsuredLoadBalancer Ensured load balancer"}
	if got := f.Events(); !slices.Equal(got, want) {
		t.Errorf("events:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	f.create(lbService("api"))
	f.waitIngress("api", "172.30.1.3/VIP")
}

func TestLoadBalancerIPHonouredOrRefused(t *testing.T) {
	want := func(ip string) func(*corev1.Service) {
		return func(s *corev1.Service) { s.Spec.LoadBalancerIP = ip }
	}
	f := start(t, cloudtest.NewRoutes(), append(threeNodes(), lbService("a", want("172.30.1.50")))...)
	f.waitIngress("a", "172.30.1.50/VIP")

	f.create(lbService("b", want("172.30.1.50")))
	f.waitEvent("Warning SyncLoadBalancerFailed Error syncing load balancer: requested spec.loadBalancerIP \"172.30.1.50\": 172.30.1.50: address is already in use by Service default/a")
	f.create(lbService("c", want("10.0.0.1")))
	f.waitEvent("Warning SyncLoadBalancerFailed Error syncing load balancer: requested spec.loadBalancerIP \"10.0.0.1\": 10.0.0.1: address is outside the LoadBalancer pool")
	f.create(lbService("d", want("172.30.1.1")))
	f.waitEvent("Warning SyncLoadBalancerFailed Error syncing load balancer: requested spec.loadBalancerIP \"172.30.1.1\"")
	if got := ingress(f.svc("b")) + ingress(f.svc("c")) + ingress(f.svc("d")); got != "" {
		t.Errorf("refused Services got ingress %q", got)
	}
	f.waitTable("172.30.1.50/32 via 172.30.0.11 via 172.30.0.12 via 172.30.0.13", poolRoute)

	// Once a lets the address go, b (waiting for it) gets it.
	if err := f.client.CoreV1().Services("default").Delete(context.Background(), "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitIngress("b", "172.30.1.50/VIP")
}

func TestReleaseOnTypeChange(t *testing.T) {
	f := start(t, cloudtest.NewRoutes(), append(threeNodes(), lbService("web"))...)
	f.waitIngress("web", "172.30.1.2/VIP")
	svc := f.svc("web")
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	if _, err := f.client.CoreV1().Services("default").Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitIngress("web", "")
	f.waitEvent("Normal DeletedLoadBalancer Deleted load balancer")
	f.waitTable(poolRoute)
	f.eventually(func() string {
		if fin := f.svc("web").Finalizers; len(fin) != 0 {
			return fmt.Sprintf("finalizers = %v after the type change", fin)
		}
		return ""
	})
	f.create(lbService("api"))
	f.waitIngress("api", "172.30.1.2/VIP") // the released address is free again
}

func TestDeletedServiceReleasedBeforeItGoes(t *testing.T) {
	vip := corev1.LoadBalancerIPModeVIP
	now := metav1.Now()
	deleting := lbService("old", func(s *corev1.Service) {
		s.Finalizers = []string{cloud.Finalizer}
		s.DeletionTimestamp = &now
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "172.30.1.7", IPMode: &vip}}
	})
	routes := cloudtest.NewRoutes(cloud.Route{Dst: netip.MustParsePrefix("172.30.1.7/32"), Via: []netip.Addr{netip.MustParseAddr("172.30.0.11")}})
	f := start(t, routes, append(threeNodes(), deleting)...)
	f.waitEvent("Normal DeletedLoadBalancer Deleted load balancer")
	f.waitTable(poolRoute)
	if fin := f.svc("old").Finalizers; len(fin) != 0 {
		t.Errorf("finalizers = %v, want none", fin)
	}
	if !slices.Contains(routes.Calls(), "delete 172.30.1.7/32") {
		t.Errorf("calls %v: no delete of 172.30.1.7/32", routes.Calls())
	}
}

func TestRestartKeepsAddresses(t *testing.T) {
	vip := corev1.LoadBalancerIPModeVIP
	old := lbService("old", func(s *corev1.Service) {
		s.Finalizers = []string{cloud.Finalizer}
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "172.30.1.2", IPMode: &vip}}
	})
	routes := cloudtest.NewRoutes(
		cloud.Route{Dst: netip.MustParsePrefix("172.30.1.2/32"), Via: []netip.Addr{netip.MustParseAddr("172.30.0.11")}},
		cloud.Route{Dst: netip.MustParsePrefix("172.30.1.9/32"), Via: []netip.Addr{netip.MustParseAddr("172.30.0.11")}}, // nobody's
	)
	f := start(t, routes, append(threeNodes(), old, lbService("new"))...)
	f.waitIngress("new", "172.30.1.3/VIP")
	f.waitIngress("old", "172.30.1.2/VIP")
	f.waitTable(
		"172.30.1.2/32 via 172.30.0.11 via 172.30.0.12 via 172.30.0.13",
		"172.30.1.3/32 via 172.30.0.11 via 172.30.0.12 via 172.30.0.13",
		poolRoute)
	// Only the new Service is ensured; the old one keeps its address without a word.
	f.waitEvent("Normal EnsuredLoadBalancer")
	n := 0
	for _, e := range f.Events() {
		if strings.HasPrefix(e, "Normal EnsuringLoadBalancer") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d EnsuringLoadBalancer events, want 1 (for the new Service): %v", n, f.Events())
	}
}

func TestLocalPolicyRoutesOnlyToNodesWithEndpoints(t *testing.T) {
	local := func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }
	f := start(t, cloudtest.NewRoutes(), append(threeNodes(), lbService("web", local), slice("web", "b=true", "c=false"))...)
	f.waitIngress("web", "172.30.1.2/VIP")
	f.waitTable("172.30.1.2/32 via 172.30.0.12", poolRoute)

	s := slice("web", "a=true", "b=true", "c=false")
	if _, err := f.client.DiscoveryV1().EndpointSlices("default").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitTable("172.30.1.2/32 via 172.30.0.11 via 172.30.0.12", poolRoute)
	f.waitEvent("Normal UpdatedLoadBalancer Updated load balancer with new hosts")

	// No ready endpoint anywhere: no route, so the pool's unreachable route answers.
	s = slice("web", "a=false")
	if _, err := f.client.DiscoveryV1().EndpointSlices("default").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitTable(poolRoute)
	if got := ingress(f.svc("web")); got != "172.30.1.2/VIP" {
		t.Errorf("ingress = %q, want the address kept", got)
	}
}

func TestNodesNotReadyOrExcludedGetNoTraffic(t *testing.T) {
	excluded := node("c", "172.30.0.13", true)
	excluded.Labels = map[string]string{cloud.ExcludeLabel: ""}
	f := start(t, cloudtest.NewRoutes(), node("a", "172.30.0.11", true), node("b", "172.30.0.12", false), excluded, lbService("web"))
	f.waitTable("172.30.1.2/32 via 172.30.0.11", poolRoute)

	if _, err := f.client.CoreV1().Nodes().UpdateStatus(context.Background(), node("b", "172.30.0.12", true), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitTable("172.30.1.2/32 via 172.30.0.11 via 172.30.0.12", poolRoute)
}

func TestNoNodesWarns(t *testing.T) {
	f := start(t, cloudtest.NewRoutes(), lbService("web"))
	f.waitIngress("web", "172.30.1.2/VIP")
	f.waitEvent("Warning UnAvailableLoadBalancer There are no available nodes for LoadBalancer")
	f.waitTable(poolRoute)
	f.create(node("a", "172.30.0.11", true))
	f.waitTable("172.30.1.2/32 via 172.30.0.11", poolRoute)
}

func TestIgnoresOtherServices(t *testing.T) {
	class := "example.com/other"
	f := start(t, cloudtest.NewRoutes(), append(threeNodes(),
		lbService("classy", func(s *corev1.Service) { s.Spec.LoadBalancerClass = &class }),
		lbService("plain", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort }),
		lbService("web"))...)
	f.waitIngress("web", "172.30.1.2/VIP")
	for _, name := range []string{"classy", "plain"} {
		if svc := f.svc(name); ingress(svc) != "" || len(svc.Finalizers) != 0 {
			t.Errorf("%s: ingress %q finalizers %v, want untouched", name, ingress(svc), svc.Finalizers)
		}
	}
}

func TestRouteFailureIsRetried(t *testing.T) {
	routes := cloudtest.NewRoutes()
	dst := netip.MustParsePrefix("172.30.1.2/32")
	routes.Fail(dst, errors.New("boom"))
	f := start(t, routes, append(threeNodes(), lbService("web"))...)
	f.waitEvent("Warning SyncLoadBalancerFailed Error syncing load balancer: route 172.30.1.2: boom")
	if got := ingress(f.svc("web")); got != "" {
		t.Errorf("ingress = %q before the route exists, want none", got)
	}
	routes.Fail(dst, nil)
	f.waitIngress("web", "172.30.1.2/VIP")
}
