package controllerutil

import (
	"context"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// NewQueue returns the typed rate-limiting workqueue every svclab controller uses.
func NewQueue(name string) workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name},
	)
}

// NewRecorder returns an event broadcaster and a recorder for component.
func NewRecorder(component string) (record.EventBroadcaster, record.EventRecorder) {
	b := record.NewBroadcaster()
	return b, b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
}

// RunController starts the event sink, waits for the caches, runs workers that call sync for
// each queued key, and blocks until ctx is done; then it shuts the queue and broadcaster down.
func RunController(ctx context.Context, name string, log *slog.Logger, client kubernetes.Interface,
	broadcaster record.EventBroadcaster, queue workqueue.TypedRateLimitingInterface[string],
	workers int, sync func(context.Context, string) error, synced ...cache.InformerSynced) {
	if broadcaster != nil {
		broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
		broadcaster.StartEventWatcher(func(e *corev1.Event) {
			log.Debug("event", "object", e.InvolvedObject.Kind+"/"+e.InvolvedObject.Namespace+"/"+e.InvolvedObject.Name,
				"type", e.Type, "reason", e.Reason, "message", e.Message)
		})
		defer broadcaster.Shutdown()
	}
	defer queue.ShutDown()

	log.Info("starting controller", "controller", name)
	defer log.Info("shutting down controller", "controller", name)
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	if workers < 1 {
		workers = 1
	}
	for range workers {
		go wait.UntilWithContext(ctx, func(ctx context.Context) {
			for processNext(ctx, log, queue, sync) {
			}
		}, time.Second)
	}
	<-ctx.Done()
}

func processNext(ctx context.Context, log *slog.Logger, queue workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) error) bool {
	key, quit := queue.Get()
	if quit {
		return false
	}
	defer queue.Done(key)
	if err := sync(ctx, key); err != nil {
		log.Warn("sync failed, requeuing", "key", key, "err", err)
		queue.AddRateLimited(key)
		return true
	}
	queue.Forget(key)
	return true
}

// KeyOf returns the namespace/name queue key of obj, unwrapping tombstones.
func KeyOf(obj any) (string, bool) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	return key, err == nil
}
