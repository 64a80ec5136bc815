package replicaset

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/svclab/svclab/lab/controller/controllerutil"
)

// BurstReplicas caps how many pods one sync creates or deletes (upstream value).
const BurstReplicas = 500

const controllerUIDIndex = "controllerUID"

var controllerKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// Controller is the ReplicaSet controller.
type Controller struct {
	client      kubernetes.Interface
	log         *slog.Logger
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	podControl  *controllerutil.PodControl

	expectations  *controllerutil.Expectations
	burstReplicas int

	rsLister  appslisters.ReplicaSetLister
	rsIndexer cache.Indexer
	podLister corelisters.PodLister
	synced    []cache.InformerSynced

	queue workqueue.TypedRateLimitingInterface[string]
}

// New wires a ReplicaSet controller to the factory's ReplicaSet and Pod informers.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger) (*Controller, error) {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "replicaset-controller")
	broadcaster, recorder := controllerutil.NewRecorder("replicaset-controller")
	c := &Controller{
		client:        client,
		log:           log,
		broadcaster:   broadcaster,
		recorder:      recorder,
		expectations:  controllerutil.NewExpectations(),
		burstReplicas: BurstReplicas,
		queue:         controllerutil.NewQueue("replicaset"),
	}
	c.podControl = &controllerutil.PodControl{Client: client, Recorder: recorder, Log: log}

	rsInformer := factory.Apps().V1().ReplicaSets()
	podInformer := factory.Core().V1().Pods()
	if _, err := rsInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addRS,
		UpdateFunc: c.updateRS,
		DeleteFunc: c.deleteRS,
	}); err != nil {
		return nil, fmt.Errorf("add replicaset event handler: %w", err)
	}
	if err := rsInformer.Informer().AddIndexers(cache.Indexers{controllerUIDIndex: func(obj any) ([]string, error) {
		rs, ok := obj.(*appsv1.ReplicaSet)
		if !ok {
			return nil, nil
		}
		if ref := metav1.GetControllerOf(rs); ref != nil {
			return []string{string(ref.UID)}, nil
		}
		return nil, nil
	}}); err != nil {
		return nil, fmt.Errorf("add replicaset indexer: %w", err)
	}
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("add pod event handler: %w", err)
	}
	c.rsLister = rsInformer.Lister()
	c.rsIndexer = rsInformer.Informer().GetIndexer()
	c.podLister = podInformer.Lister()
	c.synced = []cache.InformerSynced{rsInformer.Informer().HasSynced, podInformer.Informer().HasSynced}
	return c, nil
}

// Run processes ReplicaSets with the given number of workers until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	controllerutil.RunController(ctx, "replicaset", c.log, c.client, c.broadcaster, c.queue, workers, c.syncReplicaSet, c.synced...)
}

func (c *Controller) enqueue(rs *appsv1.ReplicaSet) {
	if key, ok := controllerutil.KeyOf(rs); ok {
		c.queue.Add(key)
	}
}

func (c *Controller) addRS(obj any) {
	c.enqueue(obj.(*appsv1.ReplicaSet))
}

func (c *Controller) updateRS(oldObj, curObj any) {
	oldRS, curRS := oldObj.(*appsv1.ReplicaSet), curObj.(*appsv1.ReplicaSet)
	if oldRS.UID != curRS.UID {
		if key, ok := controllerutil.KeyOf(oldRS); ok {
			c.deleteRS(cache.DeletedFinalStateUnknown{Key: key, Obj: oldRS})
		}
	}
	c.enqueue(curRS)
}

func (c *Controller) deleteRS(obj any) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if rs, ok = tomb.Obj.(*appsv1.ReplicaSet); !ok {
			return
		}
	}
	key, ok := controllerutil.KeyOf(rs)
	if !ok {
		return
	}
	c.expectations.DeleteExpectations(key)
	c.queue.Add(key)
}

// resolveControllerRef returns the ReplicaSet ref points to, if it still exists with that UID.
func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	if ref.Kind != controllerKind.Kind {
		return nil
	}
	rs, err := c.rsLister.ReplicaSets(namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

func (c *Controller) podReplicaSets(pod *corev1.Pod) []*appsv1.ReplicaSet {
	rss, err := c.rsLister.GetPodReplicaSets(pod)
	if err != nil {
		return nil
	}
	if len(rss) > 1 {
		c.log.Warn("more than one ReplicaSet selects pod labels", "namespace", pod.Namespace, "pod", pod.Name, "labels", pod.Labels)
	}
	return rss
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		rs := c.resolveControllerRef(pod.Namespace, ref)
		if rs == nil {
			return
		}
		key, _ := controllerutil.KeyOf(rs)
		c.expectations.CreationObserved(key)
		c.queue.Add(key)
		return
	}
	for _, rs := range c.podReplicaSets(pod) {
		c.enqueue(rs)
	}
}

func (c *Controller) updatePod(oldObj, curObj any) {
	oldPod, curPod := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if curPod.ResourceVersion == oldPod.ResourceVersion {
		return
	}
	labelChanged := !reflect.DeepEqual(curPod.Labels, oldPod.Labels)
	if curPod.DeletionTimestamp != nil {
		c.deletePod(curPod)
		if labelChanged {
			c.deletePod(oldPod)
		}
		return
	}
	curRef, oldRef := metav1.GetControllerOf(curPod), metav1.GetControllerOf(oldPod)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if rs := c.resolveControllerRef(oldPod.Namespace, oldRef); rs != nil {
			c.enqueue(rs)
		}
	}
	if curRef != nil {
		rs := c.resolveControllerRef(curPod.Namespace, curRef)
		if rs == nil {
			return
		}
		c.enqueue(rs)
		// A pod that just became ready becomes available after minReadySeconds; resync then.
		if !controllerutil.IsPodReady(oldPod) && controllerutil.IsPodReady(curPod) && rs.Spec.MinReadySeconds > 0 {
			if key, ok := controllerutil.KeyOf(rs); ok {
				c.queue.AddAfter(key, time.Duration(rs.Spec.MinReadySeconds)*time.Second+time.Second)
			}
		}
		return
	}
	if labelChanged || refChanged {
		for _, rs := range c.podReplicaSets(curPod) {
			c.enqueue(rs)
		}
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = tomb.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return
	}
	rs := c.resolveControllerRef(pod.Namespace, ref)
	if rs == nil {
		return
	}
	key, _ := controllerutil.KeyOf(rs)
	c.expectations.DeletionObserved(key, controllerutil.PodKey(pod))
	c.queue.Add(key)
}
