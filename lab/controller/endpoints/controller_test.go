package endpoints

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

const ns = "default"

var created = metav1.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type podOpt func(*v1.Pod)

func ready(p *v1.Pod) {
	p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue}}
}
func terminating(p *v1.Pod) { p.DeletionTimestamp = &created }
func namedPort(name string, port int32) podOpt {
	return func(p *v1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, v1.ContainerPort{Name: name, ContainerPort: port, Protocol: v1.ProtocolTCP})
	}
}
func hostname(host, sub string) podOpt {
	return func(p *v1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = host, sub }
}

func newPod(name, ip string, opts ...podOpt) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + ip), Labels: map[string]string{"app": "web"}},
		Spec:       v1.PodSpec{NodeName: "node-1", Containers: []v1.Container{{Name: "c"}}},
		Status:     v1.PodStatus{Phase: v1.PodRunning, PodIP: ip, PodIPs: []v1.PodIP{{IP: ip}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

type svcOpt func(*v1.Service)

func headless(s *v1.Service)        { s.Spec.ClusterIP = v1.ClusterIPNone }
func publishNotReady(s *v1.Service) { s.Spec.PublishNotReadyAddresses = true }
func noSelector(s *v1.Service)      { s.Spec.Selector = nil }
func externalName(s *v1.Service)    { s.Spec.Type = v1.ServiceTypeExternalName }
func targetPort(tp intstr.IntOrString) svcOpt {
	return func(s *v1.Service) { s.Spec.Ports[0].TargetPort = tp }
}

func newService(opts ...svcOpt) *v1.Service {
	s := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, CreationTimestamp: created, Labels: map[string]string{"tier": "front"}},
		Spec: v1.ServiceSpec{
			Selector:   map[string]string{"app": "web"},
			ClusterIP:  "10.96.0.20",
			IPFamilies: []v1.IPFamily{v1.IPv4Protocol},
			Ports:      []v1.ServicePort{{Name: "http", Port: 80, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// newTestController builds a controller whose informer stores hold objs.
func newTestController(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(client, factory, testLogger())
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
		case *v1.Endpoints:
			err = factory.Core().V1().Endpoints().Informer().GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return c, client
}

func addr(ip, pod string) v1.EndpointAddress {
	return v1.EndpointAddress{IP: ip, NodeName: ptr.To("node-1"), TargetRef: &v1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod, UID: types.UID("uid-" + ip)}}
}

func TestSyncServiceSubsets(t *testing.T) {
	httpPort := []v1.EndpointPort{{Name: "http", Port: 8080, Protocol: v1.ProtocolTCP}}
	withHost := addr("10.244.1.3", "p3")
	withHost.Hostname = "web-0"
	tests := []struct {
		name string
		svc  *v1.Service
		pods []*v1.Pod
		want []v1.EndpointSubset
	}{
		{
			name: "ready and not-ready pods",
			svc:  newService(),
			pods: []*v1.Pod{newPod("p1", "10.244.1.1", ready), newPod("p2", "10.244.1.2")},
			want: []v1.EndpointSubset{{
				Addresses:         []v1.EndpointAddress{addr("10.244.1.1", "p1")},
				NotReadyAddresses: []v1.EndpointAddress{addr("10.244.1.2", "p2")},
				Ports:             httpPort,
			}},
		},
		{
			name: "publishNotReadyAddresses makes every pod ready, terminating included",
			svc:  newService(publishNotReady),
			pods: []*v1.Pod{newPod("p1", "10.244.1.1", ready), newPod("p2", "10.244.1.2"), newPod("p3", "10.244.1.3", ready, terminating)},
			want: []v1.EndpointSubset{{
				Addresses: []v1.EndpointAddress{addr("10.244.1.1", "p1"), addr("10.244.1.2", "p2"), addr("10.244.1.3", "p3")},
				Ports:     httpPort,
			}},
		},
		{
			name: "terminating, terminal and IP-less pods are left out",
			svc:  newService(),
			pods: []*v1.Pod{
				newPod("p1", "10.244.1.1", ready),
				newPod("p2", "10.244.1.2", ready, terminating),
				newPod("p3", "10.244.1.3", ready, func(p *v1.Pod) { p.Status.Phase = v1.PodSucceeded }),
				newPod("p4", "", ready, func(p *v1.Pod) { p.Status.PodIPs = nil }),
			},
			want: []v1.EndpointSubset{{Addresses: []v1.EndpointAddress{addr("10.244.1.1", "p1")}, Ports: httpPort}},
		},
		{
			name: "named targetPort resolved per pod, pods without the port skipped",
			svc:  newService(targetPort(intstr.FromString("web"))),
			pods: []*v1.Pod{
				newPod("p1", "10.244.1.1", ready, namedPort("web", 8080)),
				newPod("p2", "10.244.1.2", ready, namedPort("web", 9090)),
				newPod("p3", "10.244.1.3", ready, namedPort("other", 7070)),
			},
			want: []v1.EndpointSubset{
				{Addresses: []v1.EndpointAddress{addr("10.244.1.1", "p1")}, Ports: httpPort},
				{Addresses: []v1.EndpointAddress{addr("10.244.1.2", "p2")}, Ports: []v1.EndpointPort{{Name: "http", Port: 9090, Protocol: v1.ProtocolTCP}}},
			},
		},
		{
			name: "hostname set only when subdomain names the service",
			svc:  newService(headless),
			pods: []*v1.Pod{newPod("p3", "10.244.1.3", ready, hostname("web-0", "web")), newPod("p4", "10.244.1.4", ready, hostname("web-1", "other"))},
			want: []v1.EndpointSubset{{
				Addresses: []v1.EndpointAddress{withHost, addr("10.244.1.4", "p4")},
				Ports:     httpPort,
			}},
		},
		{
			name: "headless service without ports",
			svc:  newService(headless, func(s *v1.Service) { s.Spec.Ports = nil }),
			pods: []*v1.Pod{newPod("p1", "10.244.1.1", ready), newPod("p2", "10.244.1.2")},
			want: []v1.EndpointSubset{{
				Addresses:         []v1.EndpointAddress{addr("10.244.1.1", "p1")},
				NotReadyAddresses: []v1.EndpointAddress{addr("10.244.1.2", "p2")},
			}},
		},
		{
			name: "no pods",
			svc:  newService(),
			want: []v1.EndpointSubset{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := desiredSubsets(tt.svc, tt.pods)
			bySubsetAddr := cmpopts.SortSlices(func(a, b v1.EndpointSubset) bool { return firstIP(a) < firstIP(b) })
			if diff := cmp.Diff(tt.want, got, bySubsetAddr); diff != "" {
				t.Errorf("subsets (-want +got):\n%s", diff)
			}
		})
	}
}

func firstIP(s v1.EndpointSubset) string {
	if len(s.Addresses) > 0 {
		return s.Addresses[0].IP
	}
	if len(s.NotReadyAddresses) > 0 {
		return s.NotReadyAddresses[0].IP
	}
	return ""
}

func TestSyncServiceWritesEndpoints(t *testing.T) {
	ctx := context.Background()
	svc := newService(headless)
	c, client := newTestController(t, svc, newPod("p1", "10.244.1.1", ready))
	if err := c.syncService(ctx, ns+"/web"); err != nil {
		t.Fatal(err)
	}
	ep, err := client.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{"tier": "front", v1.IsHeadlessService: ""}
	if diff := cmp.Diff(wantLabels, ep.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if got, want := ep.Annotations[v1.EndpointsLastChangeTriggerTime], created.UTC().Format(time.RFC3339Nano); got != want {
		t.Errorf("trigger time annotation = %q, want %q", got, want)
	}
	if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 || ep.Subsets[0].Addresses[0].IP != "10.244.1.1" {
		t.Errorf("subsets = %+v", ep.Subsets)
	}
}

func TestSyncServiceLeavesAlone(t *testing.T) {
	ctx := context.Background()
	userEP := &v1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, ResourceVersion: "7"},
		Subsets:    []v1.EndpointSubset{{Addresses: []v1.EndpointAddress{{IP: "192.0.2.10"}}, Ports: []v1.EndpointPort{{Port: 9376}}}},
	}
	tests := []struct {
		name string
		svc  *v1.Service
	}{
		{"selector-less service", newService(noSelector)},
		{"ExternalName service", newService(externalName)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, client := newTestController(t, tt.svc, userEP.DeepCopy(), newPod("p1", "10.244.1.1", ready))
			if err := c.syncService(ctx, ns+"/web"); err != nil {
				t.Fatal(err)
			}
			ep, err := client.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(userEP.Subsets, ep.Subsets); diff != "" {
				t.Errorf("user endpoints changed (-want +got):\n%s", diff)
			}
			for _, a := range client.Actions() {
				if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
					t.Errorf("unexpected write %s %s", a.GetVerb(), a.GetResource().Resource)
				}
			}
		})
	}
}

func TestSyncServiceDeletesEndpointsOfDeletedService(t *testing.T) {
	ctx := context.Background()
	ep := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}}
	c, client := newTestController(t, ep)
	if err := c.syncService(ctx, ns+"/web"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("endpoints still present: err=%v", err)
	}
}

func TestSyncServiceNoOpWhenUnchanged(t *testing.T) {
	ctx := context.Background()
	svc := newService()
	pod := newPod("p1", "10.244.1.1", ready)
	current := &v1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, ResourceVersion: "3", Labels: map[string]string{"tier": "front"}},
		Subsets:    desiredSubsets(svc, []*v1.Pod{pod}),
	}
	c, client := newTestController(t, svc, pod, current)
	client.ClearActions()
	if err := c.syncService(ctx, ns+"/web"); err != nil {
		t.Fatal(err)
	}
	if n := len(client.Actions()); n != 0 {
		t.Errorf("expected no API calls, got %v", client.Actions())
	}
}

func TestRunReconcilesPodChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset(newService())
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(client, factory, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	done := make(chan struct{})
	go func() { c.Run(ctx, 2); close(done) }()

	if _, err := client.CoreV1().Pods(ns).Create(ctx, newPod("p1", "10.244.1.1", ready), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		ep, err := client.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 1, nil
	})
	if err != nil {
		t.Fatalf("endpoints never listed the pod: %v", err)
	}
	cancel()
	<-done
}
