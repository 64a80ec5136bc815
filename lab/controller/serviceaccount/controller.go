// Package serviceaccount gives every namespace its `default` ServiceAccount and the
// `kube-root-ca.crt` ConfigMap, as kube-controller-manager's serviceaccount and root-ca-cert
// publisher controllers do.
package serviceaccount

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/svclab/svclab/lab/controller/controllerutil"
)

// RootCAConfigMap is the ConfigMap holding the cluster CA in every namespace.
const RootCAConfigMap = "kube-root-ca.crt"

// Controller keeps the default ServiceAccount (and the root CA ConfigMap when a CA is
// given) in every active namespace.
type Controller struct {
	client     kubernetes.Interface
	namespaces corelisters.NamespaceLister
	synced     cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
	rootCA     string
	log        *slog.Logger
}

// Option configures the controller.
type Option func(*Controller)

// WithRootCA publishes caPEM as kube-root-ca.crt in every namespace.
func WithRootCA(caPEM []byte) Option { return func(c *Controller) { c.rootCA = string(caPEM) } }

// New builds the controller on the factory's namespace informer.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger, opts ...Option) (*Controller, error) {
	inf := factory.Core().V1().Namespaces()
	c := &Controller{
		client:     client,
		namespaces: inf.Lister(),
		synced:     inf.Informer().HasSynced,
		queue:      controllerutil.NewQueue("serviceaccount"),
		log:        log,
	}
	for _, o := range opts {
		o(c)
	}
	_, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(obj) },
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	return c, err
}

func (c *Controller) enqueue(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		c.queue.Add(ns.Name)
	}
}

// Run processes namespaces until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	controllerutil.RunController(ctx, "serviceaccount", c.log, c.client, nil, c.queue, workers, c.sync, c.synced)
}

func (c *Controller) sync(ctx context.Context, name string) error {
	ns, err := c.namespaces.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.Status.Phase != corev1.NamespaceActive || ns.DeletionTimestamp != nil {
		return nil
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: name}}
	if _, err := c.client.CoreV1().ServiceAccounts(name).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if c.rootCA == "" {
		return nil
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: RootCAConfigMap, Namespace: name,
			Annotations: map[string]string{"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
		Data: map[string]string{"ca.crt": c.rootCA},
	}
	if _, err := c.client.CoreV1().ConfigMaps(name).Create(ctx, cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}
