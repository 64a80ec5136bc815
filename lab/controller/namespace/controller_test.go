package namespace

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"
)

var longAgo = metav1.NewTime(time.Now().Add(-time.Hour))

var (
	podsGVR       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	configmapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

// served is what the fake discovery reports: pods support deletecollection,
// configmaps only per-item delete, events cannot be deleted at all,
// namespaces are cluster-scoped.
var served = []*metav1.APIResourceList{{
	GroupVersion: "v1",
	APIResources: []metav1.APIResource{
		{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: []string{"list", "get", "delete", "deletecollection"}},
		{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: []string{"get", "update"}},
		{Name: "configmaps", Namespaced: true, Kind: "ConfigMap", Verbs: []string{"list", "get", "delete"}},
		{Name: "bindings", Namespaced: true, Kind: "Binding", Verbs: []string{"create"}},
		{Name: "namespaces", Namespaced: false, Kind: "Namespace", Verbs: []string{"list", "get", "delete"}},
	},
}}

func terminatingNamespace() *v1.Namespace {
	return &v1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "demo", UID: "ns-uid", DeletionTimestamp: &longAgo},
		Spec:       v1.NamespaceSpec{Finalizers: []v1.FinalizerName{v1.FinalizerKubernetes}},
		Status:     v1.NamespaceStatus{Phase: v1.NamespaceActive},
	}
}

func partial(apiVersion, kind, ns, name string, finalizers ...string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Finalizers: finalizers},
	}
}

type fixture struct {
	c         *Controller
	client    *fake.Clientset
	meta      *metadatafake.FakeMetadataClient
	finalized []*v1.Namespace
}

func newFixture(t *testing.T, ns *v1.Namespace, content ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{}
	f.client = fake.NewClientset(ns)
	f.client.Fake.Resources = served
	f.client.PrependReactor("create", "namespaces", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "finalize" {
			return false, nil, nil
		}
		obj := a.(k8stesting.CreateAction).GetObject().(*v1.Namespace)
		f.finalized = append(f.finalized, obj.DeepCopy())
		return true, obj, nil
	})
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	f.meta = metadatafake.NewSimpleMetadataClient(scheme, content...)
	// The object tracker has no deletecollection: emulate it for pods.
	f.meta.PrependReactor("delete-collection", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		list, err := f.meta.Tracker().List(podsGVR, schema.GroupVersionKind{Group: "fake-metadata-client-group", Version: "v1"}, a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		for _, item := range list.(*metav1.List).Items {
			p := item.Object.(*metav1.PartialObjectMetadata)
			if err := f.meta.Tracker().Delete(podsGVR, a.GetNamespace(), p.Name); err != nil {
				return true, nil, err
			}
		}
		return true, nil, nil
	})
	factory := informers.NewSharedInformerFactory(f.client, 0)
	var err error
	f.c, err = New(f.client, factory, slog.New(slog.NewTextHandler(io.Discard, nil)), f.meta, WithDeletionGracePeriod(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := factory.Core().V1().Namespaces().Informer().GetIndexer().Add(ns); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) names(t *testing.T, gvr schema.GroupVersionResource, ns string) []string {
	t.Helper()
	l, err := f.meta.Resource(gvr).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range l.Items {
		out = append(out, i.Name)
	}
	return out
}

func (f *fixture) namespace(t *testing.T) *v1.Namespace {
	t.Helper()
	ns, err := f.client.CoreV1().Namespaces().Get(context.Background(), "demo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestDeleteEmptiesAndFinalizes(t *testing.T) {
	f := newFixture(t, terminatingNamespace(),
		partial("v1", "Pod", "demo", "p1"), partial("v1", "Pod", "demo", "p2"),
		partial("v1", "ConfigMap", "demo", "c1"), partial("v1", "ConfigMap", "other", "keep"),
		partial("v1", "Pod", "other", "keep"),
	)
	if err := f.c.syncNamespace(context.Background(), "demo"); err != nil {
		t.Fatal(err)
	}
	if got := f.names(t, podsGVR, "demo"); len(got) != 0 {
		t.Errorf("pods left in demo: %v", got)
	}
	if got := f.names(t, configmapsGVR, "demo"); len(got) != 0 {
		t.Errorf("configmaps left in demo: %v", got)
	}
	if diff := cmp.Diff([]string{"keep"}, f.names(t, configmapsGVR, "other")); diff != "" {
		t.Errorf("other namespace touched (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"keep"}, f.names(t, podsGVR, "other")); diff != "" {
		t.Errorf("other namespace touched (-want +got):\n%s", diff)
	}
	if len(f.finalized) != 1 {
		t.Fatalf("finalize called %d times, want 1", len(f.finalized))
	}
	if got := f.finalized[0].Spec.Finalizers; len(got) != 0 {
		t.Errorf("finalize sent finalizers %v, want none", got)
	}
	ns := f.namespace(t)
	if ns.Status.Phase != v1.NamespaceTerminating {
		t.Errorf("phase = %s, want Terminating", ns.Status.Phase)
	}
	for _, ct := range conditionTypes {
		c := getCondition(ns.Status.Conditions, ct)
		if c == nil || c.Status != v1.ConditionFalse || c.Reason != okReasons[ct] {
			t.Errorf("condition %s = %+v, want False/%s", ct, c, okReasons[ct])
		}
	}
	// deletecollection was used for pods, per-item delete for configmaps.
	var verbs []string
	for _, a := range f.meta.Actions() {
		if a.GetVerb() == "delete" || a.GetVerb() == "delete-collection" {
			verbs = append(verbs, a.GetVerb()+" "+a.GetResource().Resource)
		}
	}
	if diff := cmp.Diff([]string{"delete configmaps", "delete-collection pods"}, verbs); diff != "" {
		t.Errorf("delete calls (-want +got):\n%s", diff)
	}
}

func TestDeleteWaitsForRemainingContent(t *testing.T) {
	f := newFixture(t, terminatingNamespace(), partial("v1", "ConfigMap", "demo", "held", "example.com/hold"))
	// Emulate the finalizer: the API server keeps the object.
	f.meta.PrependReactor("delete", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, nil
	})
	err := f.c.syncNamespace(context.Background(), "demo")
	var remaining *ResourcesRemainingError
	if !errors.As(err, &remaining) || remaining.Estimate != finalizerEstimateSeconds {
		t.Fatalf("err = %v, want ResourcesRemainingError with estimate %d", err, finalizerEstimateSeconds)
	}
	if len(f.finalized) != 0 {
		t.Errorf("namespace finalized while content remains")
	}
	ns := f.namespace(t)
	want := map[v1.NamespaceConditionType]string{
		v1.NamespaceContentRemaining:    "Some resources are remaining: configmaps. has 1 resource instances",
		v1.NamespaceFinalizersRemaining: "Some finalizers are remaining: example.com/hold in 1 resource instances",
	}
	for ct, msg := range want {
		c := getCondition(ns.Status.Conditions, ct)
		if c == nil || c.Status != v1.ConditionTrue || c.Message != msg {
			t.Errorf("condition %s = %+v, want True with %q", ct, c, msg)
		}
	}
}

func TestDeleteReportsContentFailure(t *testing.T) {
	f := newFixture(t, terminatingNamespace(), partial("v1", "ConfigMap", "demo", "c1"))
	f.meta.PrependReactor("delete", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcd is on fire")
	})
	if err := f.c.syncNamespace(context.Background(), "demo"); err == nil {
		t.Fatal("expected an error")
	}
	c := getCondition(f.namespace(t).Status.Conditions, v1.NamespaceDeletionContentFailure)
	if c == nil || c.Status != v1.ConditionTrue || c.Reason != "ContentDeletionFailed" {
		t.Errorf("content failure condition = %+v", c)
	}
	if len(f.finalized) != 0 {
		t.Errorf("namespace finalized despite failure")
	}
}

func TestActiveNamespaceUntouched(t *testing.T) {
	ns := terminatingNamespace()
	ns.DeletionTimestamp = nil
	f := newFixture(t, ns, partial("v1", "Pod", "demo", "p1"))
	if err := f.c.syncNamespace(context.Background(), "demo"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"p1"}, f.names(t, podsGVR, "demo")); diff != "" {
		t.Errorf("pods (-want +got):\n%s", diff)
	}
	if len(f.finalized) != 0 {
		t.Errorf("active namespace finalized")
	}
}
