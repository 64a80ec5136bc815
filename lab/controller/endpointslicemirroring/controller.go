package endpointslicemirroring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
	endpointsliceutil "k8s.io/endpointslice/util"
)

const (
	// ControllerName is the endpointslice.kubernetes.io/managed-by value of
	// mirrored slices.
	ControllerName = "endpointslicemirroring-controller.k8s.io"

	// DefaultMaxEndpointsPerSubset is upstream's
	// --mirroring-max-endpoints-per-subset default.
	DefaultMaxEndpointsPerSubset = 1000

	maxRetries         = 15
	defaultSyncBackOff = time.Second
	maxSyncBackOff     = 100 * time.Second
)

var errStaleCache = errors.New("EndpointSlice informer cache is out of date")

// Option configures a Controller.
type Option func(*Controller) error

// WithMaxEndpointsPerSubset caps how many addresses of one Endpoints subset are
// mirrored (default 1000).
func WithMaxEndpointsPerSubset(n int32) Option {
	return func(c *Controller) error {
		if n < 1 || n > 1000 {
			return fmt.Errorf("max endpoints per subset must be within 1..1000, got %d", n)
		}
		c.maxEndpointsPerSubset = n
		return nil
	}
}

// Controller mirrors custom Endpoints into EndpointSlices.
type Controller struct {
	client kubernetes.Interface
	log    *slog.Logger

	endpointsLister corelisters.EndpointsLister
	serviceLister   corelisters.ServiceLister
	sliceLister     discoverylisters.EndpointSliceLister
	synced          []cache.InformerSynced

	tracker               *endpointsliceutil.EndpointSliceTracker
	queue                 workqueue.TypedRateLimitingInterface[string]
	broadcaster           record.EventBroadcaster
	recorder              record.EventRecorder
	maxEndpointsPerSubset int32
}

// New returns a mirroring controller that watches Endpoints, EndpointSlices and
// Services through factory. The caller starts factory after New returns.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger, opts ...Option) (*Controller, error) {
	if client == nil || factory == nil {
		return nil, errors.New("endpointslicemirroring controller: client and informer factory are required")
	}
	if log == nil {
		log = slog.Default()
	}
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		client: client,
		log:    log.With("component", "endpointslicemirroring-controller"),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedMaxOfRateLimiter(
				workqueue.NewTypedItemExponentialFailureRateLimiter[string](defaultSyncBackOff, maxSyncBackOff),
				&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
			),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint_slice_mirroring"},
		),
		tracker:               endpointsliceutil.NewEndpointSliceTracker(),
		broadcaster:           broadcaster,
		recorder:              broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "endpoint-slice-mirroring-controller"}),
		maxEndpointsPerSubset: DefaultMaxEndpointsPerSubset,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("endpointslicemirroring controller: %w", err)
		}
	}

	epInformer := factory.Core().V1().Endpoints()
	sliceInformer := factory.Discovery().V1().EndpointSlices()
	svcInformer := factory.Core().V1().Services()
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{epInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.onEndpointsAdd,
			UpdateFunc: c.onEndpointsUpdate,
			DeleteFunc: c.onEndpointsDelete,
		}},
		{sliceInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.onSliceAdd,
			UpdateFunc: c.onSliceUpdate,
			DeleteFunc: c.onSliceDelete,
		}},
		{svcInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.onServiceAdd,
			UpdateFunc: c.onServiceUpdate,
			DeleteFunc: c.onServiceDelete,
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("endpointslicemirroring controller: add event handler: %w", err)
		}
		c.synced = append(c.synced, h.inf.HasSynced)
	}
	c.endpointsLister = epInformer.Lister()
	c.sliceLister = sliceInformer.Lister()
	c.serviceLister = svcInformer.Lister()
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
	err := c.syncEndpoints(ctx, key)
	switch {
	case err == nil:
		c.queue.Forget(key)
	case c.queue.NumRequeues(key) < maxRetries:
		c.log.Debug("error mirroring endpoint slices for endpoints, retrying", "endpoints", key, "err", err)
		c.queue.AddRateLimited(key)
	default:
		c.log.Warn("retry budget exceeded, dropping endpoints out of the queue", "endpoints", key, "err", err)
		c.queue.Forget(key)
	}
	return true
}

// syncEndpoints mirrors one Endpoints object, or removes its mirrored slices
// when it must no longer be mirrored.
func (c *Controller) syncEndpoints(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	endpoints, err := c.endpointsLister.Endpoints(namespace).Get(name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return c.deleteMirroredSlices(ctx, namespace, name)
		}
		return err
	}
	if !shouldMirror(endpoints) {
		return c.deleteMirroredSlices(ctx, namespace, name)
	}
	svc, err := c.serviceLister.Services(namespace).Get(name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return c.deleteMirroredSlices(ctx, namespace, name)
		}
		return err
	}
	// Services with a selector get slices from the EndpointSlice controller.
	if svc.Spec.Selector != nil {
		return c.deleteMirroredSlices(ctx, namespace, name)
	}
	slices, err := c.mirroredSlices(namespace, name)
	if err != nil {
		return err
	}
	if c.tracker.StaleSlices(svc, slices) {
		return errStaleCache
	}
	return c.reconcile(ctx, endpoints, slices)
}

func (c *Controller) mirroredSlices(namespace, name string) ([]*discovery.EndpointSlice, error) {
	return c.sliceLister.EndpointSlices(namespace).List(labels.Set{
		discovery.LabelServiceName: name,
		discovery.LabelManagedBy:   ControllerName,
	}.AsSelectorPreValidated())
}

func (c *Controller) deleteMirroredSlices(ctx context.Context, namespace, name string) error {
	slices, err := c.mirroredSlices(namespace, name)
	if err != nil {
		return err
	}
	c.tracker.DeleteService(namespace, name)
	var errs []error
	for _, s := range slices {
		if err := c.client.DiscoveryV1().EndpointSlices(namespace).Delete(ctx, s.Name, deleteOptions()); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("delete %d/%d mirrored endpoint slices for %s/%s: %w", len(errs), len(slices), namespace, name, errors.Join(errs...))
	}
	return nil
}
