package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	endpointslicerec "k8s.io/endpointslice"
	endpointslicemetrics "k8s.io/endpointslice/metrics"
	endpointsliceutil "k8s.io/endpointslice/util"
	"k8s.io/klog/v2"
)

const (
	// ControllerName is the endpointslice.kubernetes.io/managed-by value of
	// the slices this controller owns.
	ControllerName = "endpointslice-controller.k8s.io"

	// DefaultMaxEndpointsPerSlice is upstream's --max-endpoints-per-slice default.
	DefaultMaxEndpointsPerSlice = 100

	maxRetries = 15
	// endpointSliceChangeMinSyncDelay batches the syncs triggered by slice
	// changes, as upstream.
	endpointSliceChangeMinSyncDelay = time.Second
	defaultSyncBackOff              = time.Second
	maxSyncBackOff                  = 1000 * time.Second
)

// errStaleCache reports an EndpointSlice informer cache older than what this
// controller already wrote; the Service is retried later.
var errStaleCache = errors.New("EndpointSlice informer cache is out of date")

// Option configures a Controller.
type Option func(*Controller) error

// WithMaxEndpointsPerSlice sets how many endpoints go in one slice (default 100).
func WithMaxEndpointsPerSlice(n int32) Option {
	return func(c *Controller) error {
		if n < 1 || n > 1000 {
			return fmt.Errorf("max endpoints per slice must be within 1..1000, got %d", n)
		}
		c.maxEndpointsPerSlice = n
		return nil
	}
}

// WithBatchPeriod delays syncs triggered by Pod changes by d (upstream's
// --endpointslice-updates-batch-period). The default is 0.
func WithBatchPeriod(d time.Duration) Option {
	return func(c *Controller) error {
		if d < 0 {
			return fmt.Errorf("batch period must not be negative, got %s", d)
		}
		c.batchPeriod = d
		return nil
	}
}

// Controller manages the EndpointSlices of selector-based Services.
type Controller struct {
	client kubernetes.Interface
	log    *slog.Logger
	klog   klog.Logger

	serviceLister corelisters.ServiceLister
	podLister     corelisters.PodLister
	nodeLister    corelisters.NodeLister
	sliceLister   discoverylisters.EndpointSliceLister
	synced        []cache.InformerSynced

	reconciler           *endpointslicerec.Reconciler
	tracker              *endpointsliceutil.EndpointSliceTracker
	triggerTimeTracker   *endpointsliceutil.TriggerTimeTracker
	queue                workqueue.TypedRateLimitingInterface[string]
	broadcaster          record.EventBroadcaster
	recorder             record.EventRecorder
	maxEndpointsPerSlice int32
	batchPeriod          time.Duration
}

// New returns an EndpointSlice controller that watches Services, Pods, Nodes
// and EndpointSlices through factory. The caller starts factory after New.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger, opts ...Option) (*Controller, error) {
	if client == nil || factory == nil {
		return nil, errors.New("endpointslice controller: client and informer factory are required")
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "endpointslice-controller")
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		client: client,
		log:    log,
		klog:   logr.FromSlogHandler(log.Handler()),
		// Like upstream: 1s..1000s per-item back-off, 10 qps overall.
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedMaxOfRateLimiter(
				workqueue.NewTypedItemExponentialFailureRateLimiter[string](defaultSyncBackOff, maxSyncBackOff),
				&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
			),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint_slice"},
		),
		tracker:              endpointsliceutil.NewEndpointSliceTracker(),
		triggerTimeTracker:   endpointsliceutil.NewTriggerTimeTracker(),
		broadcaster:          broadcaster,
		recorder:             broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "endpoint-slice-controller"}),
		maxEndpointsPerSlice: DefaultMaxEndpointsPerSlice,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("endpointslice controller: %w", err)
		}
	}
	endpointslicemetrics.RegisterMetrics()

	svcInformer := factory.Core().V1().Services()
	podInformer := factory.Core().V1().Pods()
	nodeInformer := factory.Core().V1().Nodes()
	sliceInformer := factory.Discovery().V1().EndpointSlices()
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{svcInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueueService,
			UpdateFunc: func(_, cur any) { c.enqueueService(cur) },
			DeleteFunc: c.enqueueService,
		}},
		{podInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.onPodChange(nil, obj) },
			UpdateFunc: c.onPodChange,
			DeleteFunc: func(obj any) { c.onPodChange(nil, obj) },
		}},
		{nodeInformer.Informer(), cache.ResourceEventHandlerFuncs{}},
		{sliceInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.onSliceAdd,
			UpdateFunc: c.onSliceUpdate,
			DeleteFunc: c.onSliceDelete,
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("endpointslice controller: add event handler: %w", err)
		}
		c.synced = append(c.synced, h.inf.HasSynced)
	}
	c.serviceLister = svcInformer.Lister()
	c.podLister = podInformer.Lister()
	c.nodeLister = nodeInformer.Lister()
	c.sliceLister = sliceInformer.Lister()

	// No topology cache: topology-aware hints are out of scope for the lab;
	// trafficDistribution hints still work through the reconciler.
	c.reconciler = endpointslicerec.NewReconciler(client, c.nodeLister, c.maxEndpointsPerSlice, c.tracker,
		nil, c.recorder, ControllerName, endpointslicerec.WithPreferSameTrafficDistributionEnabled(true))
	return c, nil
}

// Run starts workers goroutines and blocks until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()

	c.log.Info("starting controller", "workers", workers)
	defer c.log.Info("shutting down controller")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return
	}
	if workers < 1 {
		workers = 1
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait.UntilWithContext(ctx, c.worker, time.Second)
		}()
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
}

func (c *Controller) worker(ctx context.Context) {
	for c.processNextWorkItem(ctx) {
	}
}

func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	err := c.syncService(ctx, key)
	switch {
	case err == nil:
		c.queue.Forget(key)
	case c.queue.NumRequeues(key) < maxRetries:
		c.log.Debug("error syncing endpoint slices for service, retrying", "service", key, "err", err)
		c.queue.AddRateLimited(key)
	default:
		c.log.Warn("retry budget exceeded, dropping service out of the queue", "service", key, "err", err)
		c.queue.Forget(key)
	}
	return true
}

// syncService reconciles the slices of one Service.
func (c *Controller) syncService(_ context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	service, err := c.serviceLister.Services(namespace).Get(name)
	if err != nil {
		if !apierrors.IsNotFound(err) {
			return err
		}
		// Deleted Service: its slices go with it through their ownerReference.
		c.triggerTimeTracker.DeleteService(namespace, name)
		c.reconciler.DeleteService(namespace, name)
		c.tracker.DeleteService(namespace, name)
		return nil
	}
	if service.Spec.Type == v1.ServiceTypeExternalName || service.Spec.Selector == nil {
		// ExternalName Services get no endpoints; selector-less Services get
		// slices from users or from the mirroring controller.
		return nil
	}

	pods, err := c.podLister.Pods(namespace).List(labels.Set(service.Spec.Selector).AsSelectorPreValidated())
	if err != nil {
		return err
	}
	slices, err := c.sliceLister.EndpointSlices(namespace).List(labels.Set{
		discovery.LabelServiceName: name,
		discovery.LabelManagedBy:   ControllerName,
	}.AsSelectorPreValidated())
	if err != nil {
		return err
	}
	slices = dropPendingDeletion(slices)
	if c.tracker.StaleSlices(service, slices) {
		return errStaleCache
	}
	triggerTime := c.triggerTimeTracker.ComputeEndpointLastChangeTriggerTime(namespace, service, pods)
	if err := c.reconciler.Reconcile(c.klog, service, pods, slices, triggerTime); err != nil {
		c.recorder.Eventf(service, v1.EventTypeWarning, "FailedToUpdateEndpointSlices",
			"Error updating Endpoint Slices for Service %s/%s: %v", namespace, name, err)
		return fmt.Errorf("reconcile endpoint slices of %s: %w", key, err)
	}
	return nil
}

func dropPendingDeletion(slices []*discovery.EndpointSlice) []*discovery.EndpointSlice {
	out := make([]*discovery.EndpointSlice, 0, len(slices))
	for _, s := range slices {
		if s.DeletionTimestamp == nil {
			out = append(out, s)
		}
	}
	return out
}
