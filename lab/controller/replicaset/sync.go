package replicaset

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/svclab/svclab/lab/controller/controllerutil"
)

func replicasOf(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// syncReplicaSet reconciles one ReplicaSet key: claim pods, create or delete the difference
// (unless earlier creates/deletes are still unobserved), and write status.
func (c *Controller) syncReplicaSet(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	rs, err := c.rsLister.ReplicaSets(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.DeleteExpectations(key)
		return nil
	}
	if err != nil {
		return err
	}
	needsSync := c.expectations.SatisfiedExpectations(key)
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		c.log.Error("invalid selector", "replicaset", key, "err", err)
		return nil
	}
	allPods, err := c.podLister.Pods(rs.Namespace).List(labels.Everything())
	if err != nil {
		return err
	}
	filtered := controllerutil.FilterActivePods(allPods)
	filtered, err = c.claimPods(ctx, rs, selector, filtered)
	if err != nil {
		return err
	}

	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, filtered, rs)
	}
	rs = rs.DeepCopy()
	newStatus := calculateStatus(rs, filtered, manageErr)
	updated, err := c.updateStatus(ctx, rs, newStatus)
	if err != nil {
		return err
	}
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 &&
		updated.Status.ReadyReplicas == replicasOf(updated) &&
		updated.Status.AvailableReplicas != replicasOf(updated) {
		c.queue.AddAfter(key, time.Duration(updated.Spec.MinReadySeconds)*time.Second)
	}
	return manageErr
}

func (c *Controller) claimPods(ctx context.Context, rs *appsv1.ReplicaSet, selector labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	m := &controllerutil.RefManager{
		Controller: rs,
		Kind:       controllerKind,
		Selector:   selector,
		CanAdopt: controllerutil.RecheckDeletionTimestamp(func(ctx context.Context) (metav1.Object, error) {
			fresh, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			if fresh.UID != rs.UID {
				return nil, fmt.Errorf("original ReplicaSet %v/%v is gone: got uid %v, wanted %v", rs.Namespace, rs.Name, fresh.UID, rs.UID)
			}
			return fresh, nil
		}),
	}
	return m.ClaimPods(ctx, pods, c.podControl.PatchPod)
}

// manageReplicas creates or deletes pods so that len(pods) reaches spec.replicas.
func (c *Controller) manageReplicas(ctx context.Context, pods []*corev1.Pod, rs *appsv1.ReplicaSet) error {
	diff := len(pods) - int(replicasOf(rs))
	key, _ := controllerutil.KeyOf(rs)
	ref := metav1.NewControllerRef(rs, controllerKind)
	switch {
	case diff < 0:
		diff = min(-diff, c.burstReplicas)
		c.expectations.ExpectCreations(key, diff)
		c.log.Debug("too few replicas", "replicaset", key, "need", replicasOf(rs), "creating", diff)
		done, err := controllerutil.SlowStartBatch(diff, controllerutil.SlowStartInitialBatchSize, func() error {
			err := c.podControl.CreatePods(ctx, rs.Namespace, &rs.Spec.Template, rs, ref)
			if err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			return err
		})
		for range diff - done {
			c.expectations.CreationObserved(key)
		}
		if err != nil {
			return fmt.Errorf("create pods for replicaset %s: %w", key, err)
		}
	case diff > 0:
		diff = min(diff, c.burstReplicas)
		c.log.Debug("too many replicas", "replicaset", key, "need", replicasOf(rs), "deleting", diff)
		related := c.indirectlyRelatedPods(rs)
		victims := getPodsToDelete(pods, related, diff)
		keys := make([]string, 0, len(victims))
		for _, p := range victims {
			keys = append(keys, controllerutil.PodKey(p))
		}
		c.expectations.ExpectDeletions(key, keys)
		errCh := make(chan error, len(victims))
		var wg sync.WaitGroup
		for _, p := range victims {
			wg.Add(1)
			go func(p *corev1.Pod) {
				defer wg.Done()
				if err := c.podControl.DeletePod(ctx, rs.Namespace, p.Name, rs); err != nil {
					c.expectations.DeletionObserved(key, controllerutil.PodKey(p))
					if !apierrors.IsNotFound(err) {
						errCh <- err
					}
				}
			}(p)
		}
		wg.Wait()
		select {
		case err := <-errCh:
			return fmt.Errorf("delete pods for replicaset %s: %w", key, err)
		default:
		}
	}
	return nil
}

// indirectlyRelatedPods returns pods of every ReplicaSet sharing rs's controller (the other
// revisions of one Deployment), used to prefer deleting pods on crowded nodes.
func (c *Controller) indirectlyRelatedPods(rs *appsv1.ReplicaSet) []*corev1.Pod {
	ref := metav1.GetControllerOf(rs)
	if ref == nil {
		return nil
	}
	objs, err := c.rsIndexer.ByIndex(controllerUIDIndex, string(ref.UID))
	if err != nil {
		return nil
	}
	var out []*corev1.Pod
	seen := map[types.UID]bool{}
	for _, o := range objs {
		related := o.(*appsv1.ReplicaSet)
		sel, err := metav1.LabelSelectorAsSelector(related.Spec.Selector)
		if err != nil {
			continue
		}
		pods, err := c.podLister.Pods(related.Namespace).List(sel)
		if err != nil {
			continue
		}
		for _, p := range pods {
			if !seen[p.UID] {
				seen[p.UID] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// getPodsToDelete picks diff pods, preferring unscheduled, pending, not-ready, crowded and newer pods.
func getPodsToDelete(filtered, related []*corev1.Pod, diff int) []*corev1.Pod {
	if diff < len(filtered) {
		ranked := controllerutil.RankPodsByRelatedOnSameNode(filtered, related)
		sort.Sort(ranked)
	}
	return filtered[:diff]
}
