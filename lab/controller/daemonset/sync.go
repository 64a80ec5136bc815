package daemonset

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/svclab/svclab/lab/controller/controllerutil"
)

// syncDaemonSet reconciles one DaemonSet key.
func (c *Controller) syncDaemonSet(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	cached, err := c.dsLister.DaemonSets(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.DeleteExpectations(key)
		return nil
	}
	if err != nil {
		return err
	}
	ds := cached.DeepCopy()
	withDefaults(ds)
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	if reflect.DeepEqual(ds.Spec.Selector, &metav1.LabelSelector{}) {
		c.recorder.Eventf(ds, corev1.EventTypeWarning, SelectingAllReason, "This daemon set is selecting all pods. A non-empty selector is required.")
		return nil
	}
	// While the DaemonSet is being deleted its history may already be gone: do nothing.
	if ds.DeletionTimestamp != nil {
		return nil
	}
	cur, old, err := c.constructHistory(ctx, ds)
	if err != nil {
		return fmt.Errorf("construct revisions of daemonset %s: %w", key, err)
	}
	hash := cur.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]

	if !c.expectations.SatisfiedExpectations(key) {
		return c.updateStatus(ctx, ds, nodes, hash, false)
	}
	err = c.updateDaemonSet(ctx, ds, nodes, hash, key, old)
	statusErr := c.updateStatus(ctx, ds, nodes, hash, true)
	switch {
	case err != nil && statusErr != nil:
		c.log.Error("failed to update daemonset status", logKey(ds), "err", statusErr)
		return err
	case err != nil:
		return err
	}
	return statusErr
}

func (c *Controller) updateDaemonSet(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash, key string, old []*appsv1.ControllerRevision) error {
	if err := c.manage(ctx, ds, nodes, hash); err != nil {
		return err
	}
	if c.expectations.SatisfiedExpectations(key) && ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if err := c.rollingUpdate(ctx, ds, nodes, hash); err != nil {
			return err
		}
	}
	if err := c.cleanupHistory(ctx, ds, old); err != nil {
		return fmt.Errorf("failed to clean up revisions of DaemonSet: %w", err)
	}
	return nil
}

// getDaemonPods returns the pods the DaemonSet owns, adopting and releasing as needed.
func (c *Controller) getDaemonPods(ctx context.Context, ds *appsv1.DaemonSet) ([]*corev1.Pod, error) {
	selector, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return nil, err
	}
	pods, err := c.podLister.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	m := &controllerutil.RefManager{
		Controller: ds, Kind: controllerKind, Selector: selector,
		CanAdopt: controllerutil.RecheckDeletionTimestamp(func(ctx context.Context) (metav1.Object, error) {
			fresh, err := c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			if fresh.UID != ds.UID {
				return nil, fmt.Errorf("original DaemonSet %v/%v is gone: got uid %v, wanted %v", ds.Namespace, ds.Name, fresh.UID, ds.UID)
			}
			return fresh, nil
		}),
	}
	return m.ClaimPods(ctx, pods, c.podControl.PatchPod)
}

// getNodesToDaemonPods maps node names to the DaemonSet's pods on (or pinned to) them.
func (c *Controller) getNodesToDaemonPods(ctx context.Context, ds *appsv1.DaemonSet, includeDeletedTerminal bool) (map[string][]*corev1.Pod, error) {
	claimed, err := c.getDaemonPods(ctx, ds)
	if err != nil {
		return nil, err
	}
	out := map[string][]*corev1.Pod{}
	for _, p := range claimed {
		if !includeDeletedTerminal && controllerutil.IsPodTerminal(p) && p.DeletionTimestamp != nil {
			continue
		}
		node, err := targetNodeName(p)
		if err != nil {
			continue
		}
		out[node] = append(out[node], p)
	}
	return out, nil
}

// manage creates missing daemon pods and deletes pods on nodes that should not run them.
func (c *Controller) manage(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string) error {
	nodeToPods, err := c.getNodesToDaemonPods(ctx, ds, false)
	if err != nil {
		return fmt.Errorf("couldn't get node to daemon pod mapping for daemon set %q: %w", ds.Name, err)
	}
	var needing, toDelete []string
	for _, node := range nodes {
		n, d := c.podsShouldBeOnNode(node, nodeToPods, ds, hash)
		needing = append(needing, n...)
		toDelete = append(toDelete, d...)
	}
	// Pods pinned to nodes that no longer exist are never scheduled: delete them.
	known := map[string]bool{}
	for _, n := range nodes {
		known[n.Name] = true
	}
	for node, pods := range nodeToPods {
		if known[node] {
			continue
		}
		for _, p := range pods {
			if p.Spec.NodeName == "" {
				toDelete = append(toDelete, p.Name)
			}
		}
	}
	return c.syncNodes(ctx, ds, toDelete, needing, hash)
}

func (c *Controller) podsShouldBeOnNode(node *corev1.Node, nodeToPods map[string][]*corev1.Pod, ds *appsv1.DaemonSet, hash string) (needing, toDelete []string) {
	shouldRun, shouldContinue := NodeShouldRunDaemonPod(node, ds)
	pods, exists := nodeToPods[node.Name]
	switch {
	case shouldRun && !exists:
		needing = append(needing, node.Name)
	case shouldContinue:
		var running []*corev1.Pod
		for _, p := range pods {
			if p.DeletionTimestamp != nil {
				continue
			}
			switch p.Status.Phase {
			case corev1.PodFailed:
				backoffKey := fmt.Sprintf("%s/%s/%d/%s", ds.UID, ds.Name, ds.Status.ObservedGeneration, node.Name)
				now := c.failedPodsBackoff.Clock.Now()
				if c.failedPodsBackoff.IsInBackOffSinceUpdate(backoffKey, now) {
					c.enqueueAfter(ds, c.failedPodsBackoff.Get(backoffKey))
					continue
				}
				c.failedPodsBackoff.Next(backoffKey, now)
				c.recorder.Eventf(ds, corev1.EventTypeWarning, FailedDaemonPodReason,
					"Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, node.Name)
				toDelete = append(toDelete, p.Name)
			case corev1.PodSucceeded:
				toDelete = append(toDelete, p.Name)
			default:
				running = append(running, p)
			}
		}
		if !allowsSurge(ds) {
			if len(running) <= 1 {
				break
			}
			sort.Sort(podByCreationTimestampAndPhase(running))
			for _, p := range running[1:] {
				toDelete = append(toDelete, p.Name)
			}
			break
		}
		if len(running) <= 1 {
			if len(running) == 0 && shouldRun {
				needing = append(needing, node.Name)
			}
			break
		}
		// With surge, keep the oldest new pod and, while it is not yet available, the oldest
		// old pod if that one is ready.
		var oldestNew, oldestOld *corev1.Pod
		sort.Sort(podByCreationTimestampAndPhase(running))
		for _, p := range running {
			if p.Labels[appsv1.ControllerRevisionHashLabelKey] == hash {
				if oldestNew == nil {
					oldestNew = p
					continue
				}
			} else if oldestOld == nil {
				oldestOld = p
				continue
			}
			toDelete = append(toDelete, p.Name)
		}
		if oldestNew != nil && oldestOld != nil {
			switch {
			case !controllerutil.IsPodReady(oldestOld):
				toDelete = append(toDelete, oldestOld.Name)
			case controllerutil.IsPodAvailable(oldestNew, ds.Spec.MinReadySeconds, metav1.NewTime(c.failedPodsBackoff.Clock.Now())):
				toDelete = append(toDelete, oldestOld.Name)
			}
		}
	case !shouldContinue && exists:
		for _, p := range pods {
			if p.DeletionTimestamp == nil {
				toDelete = append(toDelete, p.Name)
			}
		}
	}
	return needing, toDelete
}

// syncNodes deletes podsToDelete and creates one pinned pod per node in nodesNeeding.
func (c *Controller) syncNodes(ctx context.Context, ds *appsv1.DaemonSet, podsToDelete, nodesNeeding []string, hash string) error {
	key, _ := controllerutil.KeyOf(ds)
	createDiff := min(len(nodesNeeding), c.burstReplicas)
	deleteDiff := min(len(podsToDelete), c.burstReplicas)
	c.expectations.SetExpectations(key, createDiff, deleteDiff)
	errCh := make(chan error, createDiff+deleteDiff)

	template := CreatePodTemplate(ds.Spec.Template, templateGeneration(ds), hash)
	ref := metav1.NewControllerRef(ds, controllerKind)
	var mu sync.Mutex
	next := 0
	_, createErr := controllerutil.SlowStartBatch(createDiff, controllerutil.SlowStartInitialBatchSize, func() error {
		mu.Lock()
		node := nodesNeeding[next]
		next++
		mu.Unlock()
		t := template.DeepCopy()
		t.Spec.Affinity = ReplaceNodeNameNodeAffinity(t.Spec.Affinity, node)
		err := c.podControl.CreatePods(ctx, ds.Namespace, t, ds, ref)
		if err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		if err != nil {
			c.expectations.CreationObserved(key)
		}
		return err
	})
	if skipped := createDiff - next; createErr != nil && skipped > 0 {
		c.expectations.LowerExpectations(key, skipped, 0)
	}
	if createErr != nil {
		errCh <- createErr
	}

	var wg sync.WaitGroup
	for _, name := range podsToDelete[:deleteDiff] {
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			if err := c.podControl.DeletePod(ctx, ds.Namespace, name, ds); err != nil {
				c.expectations.DeletionObserved(key, ds.Namespace+"/"+name)
				if !apierrors.IsNotFound(err) {
					errCh <- err
				}
			}
		}(name)
	}
	wg.Wait()
	close(errCh)
	var errs []error
	for err := range errCh {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// updateStatus computes and stores the DaemonSet status counters.
func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string, updateObservedGen bool) error {
	nodeToPods, err := c.getNodesToDaemonPods(ctx, ds, false)
	if err != nil {
		return fmt.Errorf("couldn't get node to daemon pod mapping for daemon set %q: %w", ds.Name, err)
	}
	var desired, current, misscheduled, ready, updated, available int32
	now := metav1.NewTime(c.failedPodsBackoff.Clock.Now())
	gen := templateGeneration(ds)
	for _, node := range nodes {
		shouldRun, _ := NodeShouldRunDaemonPod(node, ds)
		pods := nodeToPods[node.Name]
		scheduled := len(pods) > 0
		if !shouldRun {
			if scheduled {
				misscheduled++
			}
			continue
		}
		desired++
		if !scheduled {
			continue
		}
		current++
		sort.Sort(podByCreationTimestampAndPhase(pods))
		p := pods[0]
		if controllerutil.IsPodReady(p) {
			ready++
			if controllerutil.IsPodAvailable(p, ds.Spec.MinReadySeconds, now) {
				available++
			}
		}
		if isPodUpdated(p, hash, gen) {
			updated++
		}
	}
	st := appsv1.DaemonSetStatus{
		DesiredNumberScheduled: desired, CurrentNumberScheduled: current, NumberMisscheduled: misscheduled,
		NumberReady: ready, UpdatedNumberScheduled: updated, NumberAvailable: available,
		NumberUnavailable: desired - available,
	}
	if err := c.storeStatus(ctx, ds, st, updateObservedGen); err != nil {
		return fmt.Errorf("error storing status for daemon set %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	if ds.Spec.MinReadySeconds > 0 && ready != available {
		c.enqueueAfter(ds, time.Duration(ds.Spec.MinReadySeconds)*time.Second)
	}
	return nil
}

func (c *Controller) storeStatus(ctx context.Context, ds *appsv1.DaemonSet, st appsv1.DaemonSetStatus, updateObservedGen bool) error {
	cur := ds.Status
	if cur.DesiredNumberScheduled == st.DesiredNumberScheduled && cur.CurrentNumberScheduled == st.CurrentNumberScheduled &&
		cur.NumberMisscheduled == st.NumberMisscheduled && cur.NumberReady == st.NumberReady &&
		cur.UpdatedNumberScheduled == st.UpdatedNumberScheduled && cur.NumberAvailable == st.NumberAvailable &&
		cur.NumberUnavailable == st.NumberUnavailable && cur.ObservedGeneration >= ds.Generation {
		return nil
	}
	client := c.client.AppsV1().DaemonSets(ds.Namespace)
	toUpdate := ds.DeepCopy()
	var lastErr error
	for range 3 {
		if updateObservedGen {
			st.ObservedGeneration = toUpdate.Generation
		} else {
			st.ObservedGeneration = toUpdate.Status.ObservedGeneration
		}
		st.CollisionCount = toUpdate.Status.CollisionCount
		st.Conditions = toUpdate.Status.Conditions
		toUpdate.Status = st
		if _, lastErr = client.UpdateStatus(ctx, toUpdate, metav1.UpdateOptions{}); lastErr == nil {
			return nil
		}
		fresh, err := client.Get(ctx, ds.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		toUpdate = fresh
	}
	return lastErr
}

// podByCreationTimestampAndPhase orders scheduled pods first, then oldest first, then by name.
type podByCreationTimestampAndPhase []*corev1.Pod

func (o podByCreationTimestampAndPhase) Len() int      { return len(o) }
func (o podByCreationTimestampAndPhase) Swap(i, j int) { o[i], o[j] = o[j], o[i] }
func (o podByCreationTimestampAndPhase) Less(i, j int) bool {
	if (o[i].Spec.NodeName != "") != (o[j].Spec.NodeName != "") {
		return o[i].Spec.NodeName != ""
	}
	if o[i].CreationTimestamp.Equal(&o[j].CreationTimestamp) {
		return o[i].Name < o[j].Name
	}
	return o[i].CreationTimestamp.Before(&o[j].CreationTimestamp)
}
