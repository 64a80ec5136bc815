package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// Name is the scheduler's name: pods choose it with spec.schedulerName (the API's default),
// and it is the reporting controller of its events.
const Name = corev1.DefaultSchedulerName

// Retry timing, as upstream's scheduling queue: unschedulable pods are retried when the
// cluster changes in a way that might help, and at the latest after MaxUnschedulableDuration.
const (
	MaxUnschedulableDuration = 5 * time.Minute
	flushInterval            = 30 * time.Second
	// assumeTTL drops a pod assumed on a node if the informer never reports it bound.
	assumeTTL = time.Minute
)

// Scheduler binds pending pods to nodes.
type Scheduler struct {
	client kubernetes.Interface
	log    *slog.Logger

	podLister     corelisters.PodLister
	nodeLister    corelisters.NodeLister
	serviceLister corelisters.ServiceLister
	synced        []cache.InformerSynced

	queue       workqueue.TypedRateLimitingInterface[string]
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	now         func() time.Time

	mu sync.Mutex
	// unschedulable holds pods that fit no node, with when they were parked.
	unschedulable map[string]time.Time
	// moves counts moveAllToActive calls; attempts remembers the count when each pod's
	// scheduling attempt began, so an event that arrives during the attempt is not lost
	// (upstream's moveRequestCycle).
	moves    uint64
	attempts map[string]uint64
	// assumed holds pods bound by this scheduler that the informer has not yet reported bound,
	// so back-to-back decisions see them on their node.
	assumed map[string]assumedPod
}

type assumedPod struct {
	pod  *corev1.Pod
	node string
	at   time.Time
}

// New wires a scheduler to the factory's Pod, Node and Service informers. Call it before
// factory.Start; Run waits for the caches.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger) (*Scheduler, error) {
	if log == nil {
		log = slog.Default()
	}
	// Events go through core/v1 like kube-scheduler's legacy recorder did: that is what
	// `kubectl describe pod` and `kubectl events` read (apiserver-lite keeps events.k8s.io/v1
	// events in a separate store).
	broadcaster := record.NewBroadcaster()
	s := &Scheduler{
		client:      client,
		log:         log.With("component", "scheduler"),
		broadcaster: broadcaster,
		recorder:    broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Name}),
		now:         time.Now,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 10*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "scheduler"}),
		unschedulable: map[string]time.Time{},
		attempts:      map[string]uint64{},
		assumed:       map[string]assumedPod{},
	}
	pods := factory.Core().V1().Pods()
	nodes := factory.Core().V1().Nodes()
	services := factory.Core().V1().Services()
	if _, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.addPod,
		UpdateFunc: s.updatePod,
		DeleteFunc: s.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("add pod event handler: %w", err)
	}
	if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.moveAllToActive("node added") },
		UpdateFunc: s.updateNode,
	}); err != nil {
		return nil, fmt.Errorf("add node event handler: %w", err)
	}
	s.podLister = pods.Lister()
	s.nodeLister = nodes.Lister()
	s.serviceLister = services.Lister()
	s.synced = []cache.InformerSynced{pods.Informer().HasSynced, nodes.Informer().HasSynced, services.Informer().HasSynced}
	return s, nil
}

// Run schedules pods one at a time, like kube-scheduler's scheduling cycle, until ctx is done.
func (s *Scheduler) Run(ctx context.Context) {
	defer s.queue.ShutDown()
	s.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: s.client.CoreV1().Events("")})
	defer s.broadcaster.Shutdown()
	s.log.Info("starting scheduler")
	defer s.log.Info("scheduler stopped")
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return
	}
	go wait.UntilWithContext(ctx, func(context.Context) { s.flush() }, flushInterval)
	go func() {
		<-ctx.Done()
		s.queue.ShutDown()
	}()
	for s.processNext(ctx) {
	}
}

func (s *Scheduler) processNext(ctx context.Context) bool {
	key, quit := s.queue.Get()
	if quit {
		return false
	}
	defer s.queue.Done(key)
	if err := s.scheduleOne(ctx, key); err != nil {
		s.log.Warn("scheduling failed, retrying", "pod", key, "err", err)
		s.queue.AddRateLimited(key)
		return true
	}
	s.queue.Forget(key)
	return true
}

// responsible reports whether pod waits for this scheduler. Pods with scheduling gates wait
// until the gates are removed, as upstream's SchedulingGates plugin makes them.
func responsible(pod *corev1.Pod) bool {
	return pod.Spec.NodeName == "" && len(pod.Spec.SchedulingGates) == 0 &&
		(pod.Spec.SchedulerName == "" || pod.Spec.SchedulerName == Name) &&
		pod.DeletionTimestamp == nil &&
		pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

// occupiesNode reports whether a bound pod still holds its node's ports and counts for spreading.
func occupiesNode(pod *corev1.Pod) bool {
	return pod.Spec.NodeName != "" && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

func podFrom(obj any) (*corev1.Pod, bool) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return o, true
	case cache.DeletedFinalStateUnknown:
		p, ok := o.Obj.(*corev1.Pod)
		return p, ok
	}
	return nil, false
}

func (s *Scheduler) addPod(obj any) {
	pod, ok := podFrom(obj)
	if !ok {
		return
	}
	if responsible(pod) {
		s.queue.Add(podKey(pod))
		return
	}
	s.forgetAssumed(pod)
}

func (s *Scheduler) updatePod(oldObj, newObj any) {
	oldPod, ok1 := podFrom(oldObj)
	pod, ok2 := podFrom(newObj)
	if !ok1 || !ok2 {
		return
	}
	if responsible(pod) {
		// A status-only change (our own PodScheduled condition, say) cannot make it fit.
		if oldPod.UID != pod.UID || !reflect.DeepEqual(oldPod.Spec, pod.Spec) ||
			!reflect.DeepEqual(oldPod.Labels, pod.Labels) || !s.isParked(podKey(pod)) {
			s.unpark(podKey(pod))
			s.queue.Add(podKey(pod))
		}
		return
	}
	s.forgetAssumed(pod)
	if occupiesNode(oldPod) && !occupiesNode(pod) {
		s.moveAllToActive("pod finished")
	}
}

func (s *Scheduler) deletePod(obj any) {
	pod, ok := podFrom(obj)
	if !ok {
		return
	}
	key := podKey(pod)
	s.mu.Lock()
	delete(s.assumed, key)
	s.mu.Unlock()
	s.unpark(key)
	if pod.Spec.NodeName != "" {
		s.moveAllToActive("pod deleted")
	}
}

// updateNode retries unschedulable pods when a node changed in a way that can affect a
// filter; heartbeat-only updates are ignored.
func (s *Scheduler) updateNode(oldObj, newObj any) {
	oldNode, ok1 := oldObj.(*corev1.Node)
	node, ok2 := newObj.(*corev1.Node)
	if !ok1 || !ok2 {
		return
	}
	if node.Spec.Unschedulable != oldNode.Spec.Unschedulable ||
		!reflect.DeepEqual(node.Labels, oldNode.Labels) ||
		!reflect.DeepEqual(node.Spec.Taints, oldNode.Spec.Taints) ||
		!reflect.DeepEqual(conditionStatuses(node), conditionStatuses(oldNode)) {
		s.moveAllToActive("node updated")
	}
}

func conditionStatuses(node *corev1.Node) map[corev1.NodeConditionType]corev1.ConditionStatus {
	m := make(map[corev1.NodeConditionType]corev1.ConditionStatus, len(node.Status.Conditions))
	for _, c := range node.Status.Conditions {
		m[c.Type] = c.Status
	}
	return m
}

// beginAttempt records that a scheduling attempt for key starts now.
func (s *Scheduler) beginAttempt(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts[key] = s.moves
}

// park sets key aside until something changes; when something already changed while the
// attempt ran, key goes straight back to the queue instead.
func (s *Scheduler) park(key string) {
	s.mu.Lock()
	started, ok := s.attempts[key]
	delete(s.attempts, key)
	if ok && started != s.moves {
		s.mu.Unlock()
		s.queue.Add(key)
		return
	}
	defer s.mu.Unlock()
	if _, ok := s.unschedulable[key]; !ok {
		s.unschedulable[key] = s.now()
	}
}

func (s *Scheduler) unpark(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.unschedulable, key)
	delete(s.attempts, key)
}

func (s *Scheduler) isParked(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.unschedulable[key]
	return ok
}

// moveAllToActive requeues every unschedulable pod.
func (s *Scheduler) moveAllToActive(why string) {
	s.mu.Lock()
	s.moves++
	keys := make([]string, 0, len(s.unschedulable))
	for k := range s.unschedulable {
		keys = append(keys, k)
	}
	clear(s.unschedulable)
	s.mu.Unlock()
	if len(keys) > 0 {
		s.log.Debug("retrying unschedulable pods", "reason", why, "pods", len(keys))
	}
	for _, k := range keys {
		s.queue.Add(k)
	}
}

// flush requeues pods parked longer than MaxUnschedulableDuration and forgets stale assumptions.
func (s *Scheduler) flush() {
	now := s.now()
	s.mu.Lock()
	var keys []string
	for k, at := range s.unschedulable {
		if now.Sub(at) >= MaxUnschedulableDuration {
			keys = append(keys, k)
			delete(s.unschedulable, k)
		}
	}
	for k, a := range s.assumed {
		if now.Sub(a.at) >= assumeTTL {
			delete(s.assumed, k)
		}
	}
	s.mu.Unlock()
	for _, k := range keys {
		s.queue.Add(k)
	}
}

func (s *Scheduler) assume(pod *corev1.Pod, node string) {
	p := pod.DeepCopy()
	p.Spec.NodeName = node
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assumed[podKey(pod)] = assumedPod{pod: p, node: node, at: s.now()}
}

// forgetAssumed drops the assumption once the informer shows the pod bound (or gone).
func (s *Scheduler) forgetAssumed(pod *corev1.Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.assumed[podKey(pod)]; ok && (pod.Spec.NodeName != "" || a.pod.UID != pod.UID) {
		delete(s.assumed, podKey(pod))
	}
}

func (s *Scheduler) isAssumed(pod *corev1.Pod) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.assumed[podKey(pod)]
	return ok && a.pod.UID == pod.UID
}

func (s *Scheduler) assumedPods() []*corev1.Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(s.assumed))
	for _, a := range s.assumed {
		out = append(out, a.pod)
	}
	return out
}
