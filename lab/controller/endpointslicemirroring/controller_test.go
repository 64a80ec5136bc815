package endpointslicemirroring

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

const ns = "default"

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

func newTestController(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset, informers.SharedInformerFactory) {
	t.Helper()
	client := fake.NewClientset(objs...)
	withGenerateName(client)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(client, factory, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		addToStore(t, factory, o)
	}
	return c, client, factory
}

func addToStore(t *testing.T, factory informers.SharedInformerFactory, o runtime.Object) {
	t.Helper()
	var err error
	switch o := o.(type) {
	case *v1.Service:
		err = factory.Core().V1().Services().Informer().GetIndexer().Add(o)
	case *v1.Endpoints:
		err = factory.Core().V1().Endpoints().Informer().GetIndexer().Add(o)
	case *discovery.EndpointSlice:
		err = factory.Discovery().V1().EndpointSlices().Informer().GetIndexer().Add(o)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func selectorless() *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec:       v1.ServiceSpec{ClusterIP: "10.96.0.30", Ports: []v1.ServicePort{{Name: "pg", Port: 5432}}},
	}
}

func userEndpoints(mut ...func(*v1.Endpoints)) *v1.Endpoints {
	ep := &v1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns, UID: "ep-uid", Labels: map[string]string{"team": "data"},
			Annotations: map[string]string{"note": "external", v1.EndpointsLastChangeTriggerTime: "2024-01-01T00:00:00Z"}},
		Subsets: []v1.EndpointSubset{{
			Addresses:         []v1.EndpointAddress{{IP: "192.0.2.10"}, {IP: "192.0.2.11", NodeName: ptr.To("node-1")}},
			NotReadyAddresses: []v1.EndpointAddress{{IP: "192.0.2.12"}},
			Ports:             []v1.EndpointPort{{Name: "pg", Port: 5432, Protocol: v1.ProtocolTCP}},
		}},
	}
	for _, m := range mut {
		m(ep)
	}
	return ep
}

func listSlices(t *testing.T, client *fake.Clientset) []discovery.EndpointSlice {
	t.Helper()
	l, err := client.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func TestMirrorSelectorlessEndpoints(t *testing.T) {
	c, client, factory := newTestController(t, selectorless(), userEndpoints())
	ctx := context.Background()
	if err := c.syncEndpoints(ctx, ns+"/db"); err != nil {
		t.Fatal(err)
	}
	slices := listSlices(t, client)
	if len(slices) != 1 {
		t.Fatalf("got %d slices, want 1", len(slices))
	}
	s := slices[0]
	wantLabels := map[string]string{"team": "data", discovery.LabelServiceName: "db", discovery.LabelManagedBy: ControllerName}
	if diff := cmp.Diff(wantLabels, s.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"note": "external"}, s.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	if s.GenerateName != "db-" || s.AddressType != discovery.AddressTypeIPv4 {
		t.Errorf("generateName %q addressType %q", s.GenerateName, s.AddressType)
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].Kind != "Endpoints" || s.OwnerReferences[0].UID != "ep-uid" {
		t.Errorf("ownerReferences = %+v", s.OwnerReferences)
	}
	wantPorts := []discovery.EndpointPort{{Name: ptr.To("pg"), Port: ptr.To[int32](5432), Protocol: ptr.To(v1.ProtocolTCP)}}
	if diff := cmp.Diff(wantPorts, s.Ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
	got := map[string]bool{}
	for _, ep := range s.Endpoints {
		got[ep.Addresses[0]] = *ep.Conditions.Ready
		if ep.Addresses[0] == "192.0.2.11" && ptr.Deref(ep.NodeName, "") != "node-1" {
			t.Errorf("nodeName not mirrored: %v", ep.NodeName)
		}
	}
	if diff := cmp.Diff(map[string]bool{"192.0.2.10": true, "192.0.2.11": true, "192.0.2.12": false}, got); diff != "" {
		t.Errorf("endpoints ready (-want +got):\n%s", diff)
	}

	// A second sync that sees its own slice writes nothing.
	addToStore(t, factory, &s)
	client.ClearActions()
	if err := c.syncEndpoints(ctx, ns+"/db"); err != nil {
		t.Fatal(err)
	}
	for _, a := range client.Actions() {
		t.Errorf("unexpected action on unchanged endpoints: %s %s", a.GetVerb(), a.GetResource().Resource)
	}
}

func TestMirrorSplitsAddressTypes(t *testing.T) {
	ep := userEndpoints(func(e *v1.Endpoints) {
		e.Subsets[0].Addresses = append(e.Subsets[0].Addresses, v1.EndpointAddress{IP: "2001:db8::1"}, v1.EndpointAddress{IP: "not-an-ip"})
	})
	c, client, _ := newTestController(t, selectorless(), ep)
	if err := c.syncEndpoints(context.Background(), ns+"/db"); err != nil {
		t.Fatal(err)
	}
	byType := map[discovery.AddressType]int{}
	for _, s := range listSlices(t, client) {
		byType[s.AddressType] = len(s.Endpoints)
	}
	if diff := cmp.Diff(map[discovery.AddressType]int{discovery.AddressTypeIPv4: 3, discovery.AddressTypeIPv6: 1}, byType); diff != "" {
		t.Errorf("endpoints per address type (-want +got):\n%s", diff)
	}
}

func TestNoMirroring(t *testing.T) {
	existing := &discovery.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "db-old", Namespace: ns, Labels: map[string]string{
			discovery.LabelServiceName: "db", discovery.LabelManagedBy: ControllerName}},
		AddressType: discovery.AddressTypeIPv4,
	}
	tests := []struct {
		name string
		objs []runtime.Object
	}{
		{"service has a selector", []runtime.Object{func() *v1.Service {
			s := selectorless()
			s.Spec.Selector = map[string]string{"app": "db"}
			return s
		}(), userEndpoints()}},
		{"skip-mirror label", []runtime.Object{selectorless(), userEndpoints(func(e *v1.Endpoints) {
			e.Labels[discovery.LabelSkipMirror] = "true"
		})}},
		{"no service", []runtime.Object{userEndpoints()}},
		{"endpoints deleted", []runtime.Object{selectorless()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, client, _ := newTestController(t, append(tt.objs, existing.DeepCopy())...)
			if err := c.syncEndpoints(context.Background(), ns+"/db"); err != nil {
				t.Fatal(err)
			}
			if got := listSlices(t, client); len(got) != 0 {
				t.Errorf("got %d slices, want mirrored slices removed", len(got))
			}
		})
	}
}
