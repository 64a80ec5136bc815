package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
)

// finalizerEstimateSeconds is the default wait when remaining items carry
// finalizers, as upstream.
const finalizerEstimateSeconds = int64(15)

// ResourcesRemainingError reports that content was deleted but has not gone
// yet; the namespace is checked again after about Estimate/2 seconds.
type ResourcesRemainingError struct {
	Estimate int64
}

func (e *ResourcesRemainingError) Error() string {
	return fmt.Sprintf("some content remains in the namespace, estimate %d seconds before it is removed", e.Estimate)
}

// deleter empties one namespace; a port of upstream's
// namespacedResourcesDeleter.
type deleter struct {
	nsClient       typedcorev1.NamespaceInterface
	podsGetter     typedcorev1.PodsGetter
	metadataClient metadata.Interface
	discover       DiscoverFunc
	log            *slog.Logger
}

// Delete moves a namespace with a deletionTimestamp to phase Terminating,
// deletes everything in it and, once nothing is left, removes the
// `kubernetes` finalizer through the finalize subresource.
func (d *deleter) Delete(ctx context.Context, name string) error {
	ns, err := d.nsClient.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("get namespace %s: %w", name, err)
	}
	if ns.DeletionTimestamp == nil {
		return nil
	}
	ns, err = d.retryOnConflict(ctx, ns, d.updateStatusTerminating)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("mark namespace %s terminating: %w", name, err)
	}
	if ns.DeletionTimestamp.IsZero() || len(ns.Spec.Finalizers) == 0 {
		return nil
	}
	estimate, err := d.deleteAllContent(ctx, ns)
	if err != nil {
		return err
	}
	if estimate > 0 {
		return &ResourcesRemainingError{Estimate: estimate}
	}
	if _, err := d.retryOnConflict(ctx, ns, d.finalize); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("finalize namespace %s: %w", name, err)
	}
	d.log.Info("namespace finalized", "namespace", name)
	return nil
}

type updateFunc func(context.Context, *v1.Namespace) (*v1.Namespace, error)

// retryOnConflict re-reads the namespace and retries fn on conflicts,
// failing if the namespace was replaced in between (different UID).
func (d *deleter) retryOnConflict(ctx context.Context, ns *v1.Namespace, fn updateFunc) (*v1.Namespace, error) {
	latest := ns
	for {
		result, err := fn(ctx, latest)
		if err == nil {
			return result, nil
		}
		if !apierrors.IsConflict(err) {
			return nil, err
		}
		prev := latest
		latest, err = d.nsClient.Get(ctx, latest.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		if prev.UID != latest.UID {
			return nil, errors.New("namespace uid has changed across retries")
		}
	}
}

func (d *deleter) updateStatusTerminating(ctx context.Context, ns *v1.Namespace) (*v1.Namespace, error) {
	if ns.DeletionTimestamp.IsZero() || ns.Status.Phase == v1.NamespaceTerminating {
		return ns, nil
	}
	n := ns.DeepCopy()
	n.Status.Phase = v1.NamespaceTerminating
	return d.nsClient.UpdateStatus(ctx, n, metav1.UpdateOptions{})
}

// finalize removes the `kubernetes` finalizer from spec.finalizers.
func (d *deleter) finalize(ctx context.Context, ns *v1.Namespace) (*v1.Namespace, error) {
	n := v1.Namespace{ObjectMeta: ns.ObjectMeta, Spec: ns.Spec}
	keep := sets.New[string]()
	for _, f := range ns.Spec.Finalizers {
		if f != v1.FinalizerKubernetes {
			keep.Insert(string(f))
		}
	}
	n.Spec.Finalizers = make([]v1.FinalizerName, 0, keep.Len())
	for _, f := range sets.List(keep) {
		n.Spec.Finalizers = append(n.Spec.Finalizers, v1.FinalizerName(f))
	}
	out, err := d.nsClient.Finalize(ctx, &n, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return out, nil
	}
	return out, err
}

// deleteAllContent deletes every namespaced, deletable resource and reports
// how many seconds to wait before checking again (0 means all gone).
func (d *deleter) deleteAllContent(ctx context.Context, ns *v1.Namespace) (int64, error) {
	var errs []error
	cu := conditionUpdater{}
	resources, err := d.discover()
	if err != nil {
		// Partial discovery is still useful: delete what we know about.
		errs = append(errs, err)
		cu.processDiscoverResourcesErr(err)
	}
	deletable := discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"delete"}}, resources)
	verbs := map[schema.GroupVersionResource]sets.Set[string]{}
	for _, rl := range deletable {
		gv, err := schema.ParseGroupVersion(rl.GroupVersion)
		if err != nil {
			errs = append(errs, err)
			cu.processGroupVersionErr(err)
			continue
		}
		for _, r := range rl.APIResources {
			verbs[gv.WithResource(r.Name)] = sets.New([]string(r.Verbs)...)
		}
	}

	totals := contentTotals{gvrToNumRemaining: map[schema.GroupVersionResource]int{}, finalizersToNumRemaining: map[string]int{}}
	estimate := int64(0)
	gvrs := make([]schema.GroupVersionResource, 0, len(verbs))
	for gvr := range verbs {
		gvrs = append(gvrs, gvr)
	}
	slices.SortFunc(gvrs, func(a, b schema.GroupVersionResource) int { return cmpGVR(a, b) })
	for _, gvr := range gvrs {
		md, err := d.deleteAllContentFor(ctx, gvr, verbs[gvr], ns)
		if err != nil {
			errs = append(errs, err)
			cu.processDeleteContentErr(err)
		}
		estimate = max(estimate, md.estimate)
		if md.numRemaining > 0 {
			totals.gvrToNumRemaining[gvr] = md.numRemaining
			for f, n := range md.finalizersToNumRemaining {
				totals.finalizersToNumRemaining[f] += n
			}
		}
	}
	cu.processContentTotals(totals)

	// Always refresh the conditions: a condition that was failing may now
	// be fine, and other finalizers may keep the namespace around.
	if cu.update(ns) {
		if _, err := d.nsClient.UpdateStatus(ctx, ns, metav1.UpdateOptions{}); err != nil {
			d.log.Warn("cannot update namespace status conditions", "namespace", ns.Name, "err", err)
		}
	}
	if len(errs) > 0 {
		return estimate, fmt.Errorf("delete content of namespace %s: %w", ns.Name, errors.Join(errs...))
	}
	return estimate, nil
}

func cmpGVR(a, b schema.GroupVersionResource) int {
	for _, p := range [][2]string{{a.Group, b.Group}, {a.Version, b.Version}, {a.Resource, b.Resource}} {
		if p[0] != p[1] {
			if p[0] < p[1] {
				return -1
			}
			return 1
		}
	}
	return 0
}

type gvrDeletion struct {
	estimate                 int64
	numRemaining             int
	finalizersToNumRemaining map[string]int
}

// deleteAllContentFor deletes all objects of one resource in the namespace
// (deletecollection when served, else one by one) and counts what remains.
func (d *deleter) deleteAllContentFor(ctx context.Context, gvr schema.GroupVersionResource, verbs sets.Set[string], ns *v1.Namespace) (gvrDeletion, error) {
	estimate, err := d.estimateGracefulTermination(ctx, gvr, ns)
	if err != nil {
		return gvrDeletion{}, err
	}
	client := d.metadataClient.Resource(gvr).Namespace(ns.Name)
	// Background propagation: the garbage collector must not add the orphan
	// finalizer, the namespace is purged entirely anyway.
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}

	collectionDone := false
	if verbs.Has("deletecollection") {
		err := client.DeleteCollection(ctx, opts, metav1.ListOptions{})
		switch {
		case err == nil:
			collectionDone = true
		case apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err):
		default:
			return gvrDeletion{estimate: estimate}, fmt.Errorf("deletecollection %s in %s: %w", gvr, ns.Name, err)
		}
	}
	if !verbs.Has("list") {
		return gvrDeletion{estimate: estimate}, nil
	}
	if !collectionDone {
		list, err := client.List(ctx, metav1.ListOptions{})
		if err != nil {
			if apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err) {
				return gvrDeletion{estimate: estimate}, nil
			}
			return gvrDeletion{estimate: estimate}, fmt.Errorf("list %s in %s: %w", gvr, ns.Name, err)
		}
		for _, item := range list.Items {
			if err := client.Delete(ctx, item.Name, opts); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
				return gvrDeletion{estimate: estimate}, fmt.Errorf("delete %s %s/%s: %w", gvr, ns.Name, item.Name, err)
			}
		}
	}

	list, err := client.List(ctx, metav1.ListOptions{})
	if err != nil {
		if apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err) {
			return gvrDeletion{estimate: estimate}, nil
		}
		return gvrDeletion{estimate: estimate}, fmt.Errorf("list %s in %s: %w", gvr, ns.Name, err)
	}
	if len(list.Items) == 0 {
		return gvrDeletion{}, nil
	}
	finalizers := map[string]int{}
	for _, item := range list.Items {
		for _, f := range item.Finalizers {
			finalizers[f]++
		}
	}
	md := gvrDeletion{estimate: estimate, numRemaining: len(list.Items), finalizersToNumRemaining: finalizers}
	switch {
	case estimate != 0:
		return md, nil
	case len(finalizers) > 0:
		// Finalizers are normal: give their owners (e.g. the GC) time.
		md.estimate = finalizerEstimateSeconds
		return md, nil
	default:
		return md, fmt.Errorf("unexpected items still remain in namespace: %s for gvr: %v", ns.Name, gvr)
	}
}

// estimateGracefulTermination returns the longest remaining Pod grace period.
func (d *deleter) estimateGracefulTermination(ctx context.Context, gvr schema.GroupVersionResource, ns *v1.Namespace) (int64, error) {
	if gvr.GroupResource() != (schema.GroupResource{Resource: "pods"}) {
		return 0, nil
	}
	pods, err := d.podsGetter.Pods(ns.Name).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("list pods in %s: %w", ns.Name, err)
	}
	estimate := int64(0)
	for _, p := range pods.Items {
		if p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed {
			continue
		}
		if g := p.Spec.TerminationGracePeriodSeconds; g != nil && *g > estimate {
			estimate = *g
		}
	}
	if time.Since(ns.DeletionTimestamp.Time) >= time.Duration(estimate)*time.Second {
		return 0, nil
	}
	return estimate, nil
}
