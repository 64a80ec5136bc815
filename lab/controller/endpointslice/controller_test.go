package endpointslice

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

const ns = "default"

var deleted = metav1.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))

// withGenerateName makes the fake clientset honour metadata.generateName,
// as the API server does.
func withGenerateName(client *fake.Clientset) {
	var n atomic.Int32
	client.PrependReactor("create", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		obj := action.(k8stesting.CreateAction).GetObject()
		if m, ok := obj.(metav1.Object); ok && m.GetName() == "" && m.GetGenerateName() != "" {
			m.SetName(fmt.Sprintf("%s%05d", m.GetGenerateName(), n.Add(1)))
		}
		return false, nil, nil
	})
}

type podOpt func(*v1.Pod)

func ready(p *v1.Pod) {
	p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue}}
}
func terminating(p *v1.Pod) { p.DeletionTimestamp = &deleted }

func newPod(name, ip, node string, opts ...podOpt) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec:       v1.PodSpec{NodeName: node, Containers: []v1.Container{{Name: "c", Ports: []v1.ContainerPort{{Name: "web", ContainerPort: 8080, Protocol: v1.ProtocolTCP}}}}},
		Status:     v1.PodStatus{Phase: v1.PodRunning, PodIP: ip, PodIPs: []v1.PodIP{{IP: ip}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func newService(mut ...func(*v1.Service)) *v1.Service {
	s := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, UID: "svc-uid", Labels: map[string]string{"tier": "front"}},
		Spec: v1.ServiceSpec{
			Selector:   map[string]string{"app": "web"},
			ClusterIP:  "10.96.0.20",
			IPFamilies: []v1.IPFamily{v1.IPv4Protocol},
			Ports:      []v1.ServicePort{{Name: "http", Port: 80, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromString("web")}},
		},
	}
	for _, m := range mut {
		m(s)
	}
	return s
}

func newNode(name, zone string) *v1.Node {
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if zone != "" {
		n.Labels = map[string]string{v1.LabelTopologyZone: zone}
	}
	return n
}

func newTestController(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	withGenerateName(client)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(client, factory, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *v1.Pod:
			err = factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *v1.Service:
			err = factory.Core().V1().Services().Informer().GetIndexer().Add(o)
		case *v1.Node:
			err = factory.Core().V1().Nodes().Informer().GetIndexer().Add(o)
		case *discovery.EndpointSlice:
			err = factory.Discovery().V1().EndpointSlices().Informer().GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return c, client
}

func listSlices(t *testing.T, client *fake.Clientset) []discovery.EndpointSlice {
	t.Helper()
	l, err := client.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func TestSyncServiceCreatesSlice(t *testing.T) {
	svc := newService()
	c, client := newTestController(t, svc,
		newNode("node-1", "zone-a"), newNode("node-2", ""),
		newPod("p1", "10.244.1.1", "node-1", ready),
		newPod("p2", "10.244.2.1", "node-2"),
		newPod("p3", "10.244.1.2", "node-1", ready, terminating),
		newPod("p4", "10.244.2.2", "node-2", terminating),
	)
	if err := c.syncService(context.Background(), ns+"/web"); err != nil {
		t.Fatal(err)
	}
	slices := listSlices(t, client)
	if len(slices) != 1 {
		t.Fatalf("got %d slices, want 1", len(slices))
	}
	s := slices[0]
	if s.GenerateName != "web-" {
		t.Errorf("generateName = %q, want web-", s.GenerateName)
	}
	wantLabels := map[string]string{"tier": "front", discovery.LabelServiceName: "web", discovery.LabelManagedBy: ControllerName}
	if diff := cmp.Diff(wantLabels, s.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	wantOwner := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "web", UID: "svc-uid", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	if diff := cmp.Diff(wantOwner, s.OwnerReferences); diff != "" {
		t.Errorf("ownerReferences (-want +got):\n%s", diff)
	}
	if s.AddressType != discovery.AddressTypeIPv4 {
		t.Errorf("addressType = %s", s.AddressType)
	}
	wantPorts := []discovery.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(v1.ProtocolTCP)}}
	if diff := cmp.Diff(wantPorts, s.Ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}

	type cond struct{ ready, serving, terminating bool }
	want := map[string]struct {
		c    cond
		node string
		zone *string
	}{
		"p1": {cond{true, true, false}, "node-1", ptr.To("zone-a")},
		"p2": {cond{false, false, false}, "node-2", nil},
		"p3": {cond{false, true, true}, "node-1", ptr.To("zone-a")},
		"p4": {cond{false, false, true}, "node-2", nil},
	}
	if len(s.Endpoints) != len(want) {
		t.Fatalf("got %d endpoints, want %d", len(s.Endpoints), len(want))
	}
	for _, ep := range s.Endpoints {
		w, ok := want[ep.TargetRef.Name]
		if !ok {
			t.Errorf("unexpected endpoint %v", ep.TargetRef.Name)
			continue
		}
		got := cond{*ep.Conditions.Ready, *ep.Conditions.Serving, *ep.Conditions.Terminating}
		if got != w.c {
			t.Errorf("%s conditions = %+v, want %+v", ep.TargetRef.Name, got, w.c)
		}
		if ptr.Deref(ep.NodeName, "") != w.node {
			t.Errorf("%s nodeName = %v, want %s", ep.TargetRef.Name, ep.NodeName, w.node)
		}
		if diff := cmp.Diff(w.zone, ep.Zone); diff != "" {
			t.Errorf("%s zone (-want +got):\n%s", ep.TargetRef.Name, diff)
		}
		if ep.TargetRef.Kind != "Pod" || ep.TargetRef.UID != types.UID("uid-"+ep.TargetRef.Name) {
			t.Errorf("%s targetRef = %+v", ep.TargetRef.Name, ep.TargetRef)
		}
	}
}

func TestSyncServicePublishNotReadyAndHostname(t *testing.T) {
	svc := newService(func(s *v1.Service) {
		s.Spec.ClusterIP = v1.ClusterIPNone
		s.Spec.PublishNotReadyAddresses = true
	})
	pod := newPod("p1", "10.244.1.1", "node-1", func(p *v1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "web-0", "web" })
	c, client := newTestController(t, svc, newNode("node-1", ""), pod)
	if err := c.syncService(context.Background(), ns+"/web"); err != nil {
		t.Fatal(err)
	}
	slices := listSlices(t, client)
	if len(slices) != 1 || len(slices[0].Endpoints) != 1 {
		t.Fatalf("slices = %+v", slices)
	}
	s := slices[0]
	if _, ok := s.Labels[v1.IsHeadlessService]; !ok {
		t.Errorf("headless label missing: %v", s.Labels)
	}
	ep := s.Endpoints[0]
	if !*ep.Conditions.Ready || *ep.Conditions.Serving {
		t.Errorf("conditions = ready %v serving %v, want ready true serving false", *ep.Conditions.Ready, *ep.Conditions.Serving)
	}
	if ptr.Deref(ep.Hostname, "") != "web-0" {
		t.Errorf("hostname = %v, want web-0", ep.Hostname)
	}
}

func TestSyncServiceSkips(t *testing.T) {
	tests := []struct {
		name string
		svc  *v1.Service
	}{
		{"selector-less", newService(func(s *v1.Service) { s.Spec.Selector = nil })},
		{"ExternalName", newService(func(s *v1.Service) { s.Spec.Type = v1.ServiceTypeExternalName })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, client := newTestController(t, tt.svc, newNode("node-1", ""), newPod("p1", "10.244.1.1", "node-1", ready))
			if err := c.syncService(context.Background(), ns+"/web"); err != nil {
				t.Fatal(err)
			}
			if got := listSlices(t, client); len(got) != 0 {
				t.Errorf("got %d slices, want none", len(got))
			}
		})
	}
}

func TestSyncServiceUpdatesExistingSlice(t *testing.T) {
	// A second sync after a Pod goes away must rewrite the same slice.
	svc := newService()
	c, client := newTestController(t, svc, newNode("node-1", ""),
		newPod("p1", "10.244.1.1", "node-1", ready), newPod("p2", "10.244.1.2", "node-1", ready))
	if err := c.syncService(context.Background(), ns+"/web"); err != nil {
		t.Fatal(err)
	}
	first := listSlices(t, client)
	if len(first) != 1 || len(first[0].Endpoints) != 2 {
		t.Fatalf("first sync: %+v", first)
	}
	slice := first[0].DeepCopy()
	slice.Generation = 1
	idx := informers.NewSharedInformerFactory(client, 0) // fresh stores for the second sync
	c2, err := New(client, idx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []runtime.Object{svc, newNode("node-1", ""), newPod("p1", "10.244.1.1", "node-1", ready), slice} {
		switch o := o.(type) {
		case *v1.Pod:
			_ = idx.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *v1.Service:
			_ = idx.Core().V1().Services().Informer().GetIndexer().Add(o)
		case *v1.Node:
			_ = idx.Core().V1().Nodes().Informer().GetIndexer().Add(o)
		case *discovery.EndpointSlice:
			_ = idx.Discovery().V1().EndpointSlices().Informer().GetIndexer().Add(o)
		}
	}
	if err := c2.syncService(context.Background(), ns+"/web"); err != nil {
		t.Fatal(err)
	}
	second := listSlices(t, client)
	if len(second) != 1 || second[0].Name != first[0].Name {
		t.Fatalf("second sync slices: %v", names(second))
	}
	if len(second[0].Endpoints) != 1 || second[0].Endpoints[0].TargetRef.Name != "p1" {
		t.Errorf("endpoints after update: %+v", second[0].Endpoints)
	}
}

func names(s []discovery.EndpointSlice) []string {
	out := []string{}
	for _, x := range s {
		out = append(out, x.Name)
	}
	sort.Strings(out)
	return out
}
