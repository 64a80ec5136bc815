package garbagecollector

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

const ns = "default"

var (
	podsGVR        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	replicasetsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	now            = metav1.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
)

var served = []*metav1.APIResourceList{
	{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: []string{"list", "watch", "get", "delete", "patch"}},
		{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: []string{"get", "patch"}},
		{Name: "events", Namespaced: true, Kind: "Event", Verbs: []string{"list", "watch", "delete"}},
		{Name: "namespaces", Namespaced: false, Kind: "Namespace", Verbs: []string{"list", "watch", "get", "delete"}},
	}},
	{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
		{Name: "replicasets", Namespaced: true, Kind: "ReplicaSet", Verbs: []string{"list", "watch", "get", "delete", "patch"}},
		{Name: "deployments", Namespaced: true, Kind: "Deployment", Verbs: []string{"list", "watch", "get", "delete", "patch"}},
	}},
}

type objOpt func(*metav1.PartialObjectMetadata)

func ownedBy(apiVersion, kind, name, uid string, block bool) objOpt {
	return func(o *metav1.PartialObjectMetadata) {
		o.OwnerReferences = append(o.OwnerReferences, metav1.OwnerReference{
			APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(uid),
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(block),
		})
	}
}

func deleting(finalizers ...string) objOpt {
	return func(o *metav1.PartialObjectMetadata) {
		o.DeletionTimestamp = &now
		o.Finalizers = finalizers
	}
}

func obj(apiVersion, kind, name, uid string, opts ...objOpt) *metav1.PartialObjectMetadata {
	o := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid), ResourceVersion: "1"},
	}
	for _, f := range opts {
		f(o)
	}
	return o
}

type fixture struct {
	meta *metadatafake.FakeMetadataClient
}

// start runs a collector over objs until the test ends.
func start(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset()
	client.Fake.Resources = served
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	f := &fixture{meta: metadatafake.NewSimpleMetadataClient(scheme, objs...)}
	c, err := New(client, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), f.meta)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx, 2); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

func (f *fixture) get(gvr schema.GroupVersionResource, name string) (*metav1.PartialObjectMetadata, error) {
	return f.meta.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
}

// eventually polls cond until it holds (the collector works asynchronously).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("timed out waiting until %s", what)
	}
}

func (f *fixture) gone(gvr schema.GroupVersionResource, name string) func() bool {
	return func() bool {
		_, err := f.get(gvr, name)
		return apierrors.IsNotFound(err)
	}
}

func (f *fixture) deleteCalls() []string {
	var out []string
	for _, a := range f.meta.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok {
			out = append(out, d.GetResource().Resource+"/"+d.GetName())
		}
	}
	return out
}

func TestBackgroundDeletion(t *testing.T) {
	f := start(t,
		obj("apps/v1", "ReplicaSet", "alive", "rs-alive"),
		obj("apps/v1", "ReplicaSet", "replaced", "rs-new"),
		// owner gone entirely
		obj("v1", "Pod", "orphaned", "p1", ownedBy("apps/v1", "ReplicaSet", "gone", "rs-gone", true)),
		// owner alive
		obj("v1", "Pod", "kept", "p2", ownedBy("apps/v1", "ReplicaSet", "alive", "rs-alive", true)),
		// owner name exists but with another uid: a virtual owner, gone
		obj("v1", "Pod", "stale-uid", "p3", ownedBy("apps/v1", "ReplicaSet", "replaced", "rs-old", true)),
		// one owner alive, one gone: kept, dangling reference removed
		obj("v1", "Pod", "two-owners", "p4",
			ownedBy("apps/v1", "ReplicaSet", "alive", "rs-alive", false),
			ownedBy("apps/v1", "ReplicaSet", "gone", "rs-gone", false)),
		// no owners at all
		obj("v1", "Pod", "standalone", "p5"),
	)
	eventually(t, "pod with a missing owner is deleted", f.gone(podsGVR, "orphaned"))
	eventually(t, "pod whose owner uid does not match is deleted", f.gone(podsGVR, "stale-uid"))
	eventually(t, "the dangling owner reference is removed", func() bool {
		p, err := f.get(podsGVR, "two-owners")
		return err == nil && len(p.OwnerReferences) == 1 && p.OwnerReferences[0].UID == "rs-alive"
	})
	for _, name := range []string{"kept", "standalone"} {
		if _, err := f.get(podsGVR, name); err != nil {
			t.Errorf("pod %s: %v", name, err)
		}
	}
	// The uid precondition and background propagation are set on deletes.
	for _, a := range f.meta.Actions() {
		d, ok := a.(k8stesting.DeleteActionImpl)
		if !ok {
			continue
		}
		if d.DeleteOptions.Preconditions == nil || d.DeleteOptions.Preconditions.UID == nil {
			t.Errorf("delete of %s without uid precondition", d.Name)
		}
		if p := d.DeleteOptions.PropagationPolicy; p == nil || *p != metav1.DeletePropagationBackground {
			t.Errorf("delete of %s with propagation %v, want Background", d.Name, p)
		}
	}
}

func TestForegroundDeletion(t *testing.T) {
	f := start(t,
		obj("apps/v1", "Deployment", "web", "d1", deleting(metav1.FinalizerDeleteDependents)),
		obj("apps/v1", "ReplicaSet", "web-1", "rs1", ownedBy("apps/v1", "Deployment", "web", "d1", true)),
		obj("v1", "Pod", "web-1-a", "p1", ownedBy("apps/v1", "ReplicaSet", "web-1", "rs1", true)),
		// not owned by the deployment: untouched
		obj("v1", "Pod", "other", "p2"),
	)
	eventually(t, "the replicaset is deleted", f.gone(replicasetsGVR, "web-1"))
	eventually(t, "the pod of the replicaset is deleted", f.gone(podsGVR, "web-1-a"))
	eventually(t, "the deployment's foregroundDeletion finalizer is removed", func() bool {
		d, err := f.get(deploymentsGVR, "web")
		return err == nil && len(d.Finalizers) == 0
	})
	if _, err := f.get(podsGVR, "other"); err != nil {
		t.Errorf("unrelated pod: %v", err)
	}
	// The replicaset has dependents, so it is deleted in the foreground too.
	for _, a := range f.meta.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok && d.Name == "web-1" {
			if p := d.DeleteOptions.PropagationPolicy; p == nil || *p != metav1.DeletePropagationForeground {
				t.Errorf("replicaset deleted with propagation %v, want Foreground", p)
			}
		}
	}
}

func TestForegroundWaitsForNonBlockingOnlyOwners(t *testing.T) {
	// A dependent without blockOwnerDeletion does not hold the owner back.
	f := start(t,
		obj("apps/v1", "ReplicaSet", "rs", "rs1", deleting(metav1.FinalizerDeleteDependents, "example.com/keep")),
		obj("v1", "Pod", "loose", "p1", ownedBy("apps/v1", "ReplicaSet", "rs", "rs1", false)),
	)
	eventually(t, "foregroundDeletion removed, other finalizers kept", func() bool {
		rs, err := f.get(replicasetsGVR, "rs")
		return err == nil && slices.Equal(rs.Finalizers, []string{"example.com/keep"})
	})
	eventually(t, "the non-blocking dependent is still deleted", f.gone(podsGVR, "loose"))
}

func TestOrphanDeletion(t *testing.T) {
	f := start(t,
		obj("apps/v1", "ReplicaSet", "rs", "rs1", deleting(metav1.FinalizerOrphanDependents)),
		obj("v1", "Pod", "a", "p1", ownedBy("apps/v1", "ReplicaSet", "rs", "rs1", true)),
		obj("v1", "Pod", "b", "p2",
			ownedBy("apps/v1", "ReplicaSet", "rs", "rs1", true),
			ownedBy("apps/v1", "Deployment", "keep", "d-keep", false)),
		obj("apps/v1", "Deployment", "keep", "d-keep"),
	)
	eventually(t, "the orphan finalizer is removed", func() bool {
		rs, err := f.get(replicasetsGVR, "rs")
		return err == nil && len(rs.Finalizers) == 0
	})
	a, err := f.get(podsGVR, "a")
	if err != nil {
		t.Fatalf("orphaned pod a was deleted: %v", err)
	}
	if len(a.OwnerReferences) != 0 {
		t.Errorf("pod a still has owner references %v", a.OwnerReferences)
	}
	b, err := f.get(podsGVR, "b")
	if err != nil {
		t.Fatalf("orphaned pod b was deleted: %v", err)
	}
	var uids []types.UID
	for _, r := range b.OwnerReferences {
		uids = append(uids, r.UID)
	}
	if diff := cmp.Diff([]types.UID{"d-keep"}, uids); diff != "" {
		t.Errorf("pod b owner uids (-want +got):\n%s", diff)
	}
	if calls := f.deleteCalls(); len(calls) != 0 {
		t.Errorf("orphaning deleted objects: %v", calls)
	}
}
