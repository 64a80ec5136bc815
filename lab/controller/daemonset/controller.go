package daemonset

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"

	"github.com/svclab/svclab/lab/controller/controllerutil"
)

// BurstReplicas caps how many pods one sync creates or deletes (upstream value).
const BurstReplicas = 250

// Event reasons (upstream names).
const (
	SelectingAllReason    = "SelectingAll"
	FailedDaemonPodReason = "FailedDaemonPod"
)

var controllerKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// Controller is the DaemonSet controller.
type Controller struct {
	client      kubernetes.Interface
	log         *slog.Logger
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	podControl  *controllerutil.PodControl

	expectations      *controllerutil.Expectations
	burstReplicas     int
	failedPodsBackoff *flowcontrol.Backoff

	dsLister      appslisters.DaemonSetLister
	historyLister appslisters.ControllerRevisionLister
	podLister     corelisters.PodLister
	nodeLister    corelisters.NodeLister
	synced        []cache.InformerSynced

	queue workqueue.TypedRateLimitingInterface[string]
}

// New wires a DaemonSet controller to the factory's DaemonSet, ControllerRevision, Pod and Node informers.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger) (*Controller, error) {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "daemonset-controller")
	broadcaster, recorder := controllerutil.NewRecorder("daemonset-controller")
	c := &Controller{
		client:            client,
		log:               log,
		broadcaster:       broadcaster,
		recorder:          recorder,
		expectations:      controllerutil.NewExpectations(),
		burstReplicas:     BurstReplicas,
		failedPodsBackoff: flowcontrol.NewBackOff(time.Second, 15*time.Minute),
		queue:             controllerutil.NewQueue("daemonset"),
	}
	c.podControl = &controllerutil.PodControl{Client: client, Recorder: recorder, Log: log}

	dsInf := factory.Apps().V1().DaemonSets()
	crInf := factory.Apps().V1().ControllerRevisions()
	podInf := factory.Core().V1().Pods()
	nodeInf := factory.Core().V1().Nodes()
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandlerFuncs
	}{
		{dsInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueue,
			UpdateFunc: func(_, cur any) { c.enqueue(cur) },
			DeleteFunc: c.deleteDaemonSet,
		}},
		{crInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.onHistory,
			UpdateFunc: func(_, cur any) { c.onHistory(cur) },
			DeleteFunc: c.onHistory,
		}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.addPod,
			UpdateFunc: c.updatePod,
			DeleteFunc: c.deletePod,
		}},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.addNode,
			UpdateFunc: c.updateNode,
			DeleteFunc: func(any) { c.enqueueAll() },
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("add daemonset controller event handler: %w", err)
		}
	}
	c.dsLister = dsInf.Lister()
	c.historyLister = crInf.Lister()
	c.podLister = podInf.Lister()
	c.nodeLister = nodeInf.Lister()
	c.synced = []cache.InformerSynced{dsInf.Informer().HasSynced, crInf.Informer().HasSynced, podInf.Informer().HasSynced, nodeInf.Informer().HasSynced}
	return c, nil
}

// Run processes DaemonSets with the given number of workers until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.failedPodsBackoff.GC()
			}
		}
	}()
	controllerutil.RunController(ctx, "daemonset", c.log, c.client, c.broadcaster, c.queue, workers, c.syncDaemonSet, c.synced...)
}

func (c *Controller) enqueue(obj any) {
	if key, ok := controllerutil.KeyOf(obj); ok {
		c.queue.Add(key)
	}
}

func (c *Controller) enqueueAfter(ds *appsv1.DaemonSet, after time.Duration) {
	if key, ok := controllerutil.KeyOf(ds); ok {
		c.queue.AddAfter(key, after)
	}
}

func (c *Controller) enqueueAll() {
	all, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range all {
		c.enqueue(ds)
	}
}

func (c *Controller) deleteDaemonSet(obj any) {
	if key, ok := controllerutil.KeyOf(obj); ok {
		c.expectations.DeleteExpectations(key)
		c.queue.Add(key)
	}
}

func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *appsv1.DaemonSet {
	if ref.Kind != controllerKind.Kind {
		return nil
	}
	ds, err := c.dsLister.DaemonSets(namespace).Get(ref.Name)
	if err != nil || ds.UID != ref.UID {
		return nil
	}
	return ds
}

// daemonSetsSelecting returns the DaemonSets whose selector matches lbls in namespace.
func (c *Controller) daemonSetsSelecting(namespace string, lbls map[string]string) []*appsv1.DaemonSet {
	all, err := c.dsLister.DaemonSets(namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*appsv1.DaemonSet
	for _, ds := range all {
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(lbls)) {
			out = append(out, ds)
		}
	}
	return out
}

func (c *Controller) onHistory(obj any) {
	cr, ok := obj.(*appsv1.ControllerRevision)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if cr, ok = tomb.Obj.(*appsv1.ControllerRevision); !ok {
			return
		}
	}
	if ref := metav1.GetControllerOf(cr); ref != nil {
		if ds := c.resolveControllerRef(cr.Namespace, ref); ds != nil {
			c.enqueue(ds)
		}
		return
	}
	for _, ds := range c.daemonSetsSelecting(cr.Namespace, cr.Labels) {
		c.enqueue(ds)
	}
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		ds := c.resolveControllerRef(pod.Namespace, ref)
		if ds == nil {
			return
		}
		key, _ := controllerutil.KeyOf(ds)
		c.expectations.CreationObserved(key)
		c.queue.Add(key)
		return
	}
	for _, ds := range c.daemonSetsSelecting(pod.Namespace, pod.Labels) {
		c.enqueue(ds)
	}
}

func (c *Controller) updatePod(oldObj, curObj any) {
	oldPod, curPod := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if oldPod.ResourceVersion == curPod.ResourceVersion {
		return
	}
	if curPod.DeletionTimestamp != nil {
		c.deletePod(curPod)
		return
	}
	curRef, oldRef := metav1.GetControllerOf(curPod), metav1.GetControllerOf(oldPod)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if ds := c.resolveControllerRef(oldPod.Namespace, oldRef); ds != nil {
			c.enqueue(ds)
		}
	}
	if curRef != nil {
		ds := c.resolveControllerRef(curPod.Namespace, curRef)
		if ds == nil {
			return
		}
		c.enqueue(ds)
		if !controllerutil.IsPodReady(oldPod) && controllerutil.IsPodReady(curPod) && ds.Spec.MinReadySeconds > 0 {
			c.enqueueAfter(ds, time.Duration(ds.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if refChanged || !reflect.DeepEqual(curPod.Labels, oldPod.Labels) {
		for _, ds := range c.daemonSetsSelecting(curPod.Namespace, curPod.Labels) {
			c.enqueue(ds)
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
	ds := c.resolveControllerRef(pod.Namespace, ref)
	if ds == nil {
		return
	}
	key, _ := controllerutil.KeyOf(ds)
	c.expectations.DeletionObserved(key, controllerutil.PodKey(pod))
	c.queue.Add(key)
}

func (c *Controller) addNode(obj any) {
	node := obj.(*corev1.Node)
	all, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range all {
		if run, _ := NodeShouldRunDaemonPod(node, ds); run {
			c.enqueue(ds)
		}
	}
}

func (c *Controller) updateNode(oldObj, curObj any) {
	oldNode, curNode := oldObj.(*corev1.Node), curObj.(*corev1.Node)
	if apiequality.Semantic.DeepEqual(oldNode.Labels, curNode.Labels) &&
		apiequality.Semantic.DeepEqual(oldNode.Spec, curNode.Spec) {
		return
	}
	all, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range all {
		oldRun, oldContinue := NodeShouldRunDaemonPod(oldNode, ds)
		curRun, curContinue := NodeShouldRunDaemonPod(curNode, ds)
		if oldRun != curRun || oldContinue != curContinue {
			c.enqueue(ds)
		}
	}
}
