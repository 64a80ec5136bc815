package lab

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/lab/image"
	"github.com/svclab/svclab/proxy/ingress"
)

// IngressNamespace holds the lab's ingress controller, as ingress-nginx has its own.
const IngressNamespace = "ingress-svclab"

// Ingress NodePorts: one high port for HTTP and one for HTTPS on every node, as the course
// exposes an ingress controller.
const (
	IngressHTTPNodePort  = 30080
	IngressHTTPSNodePort = 30443
)

// ensureIngressClass creates the IngressClass "svclab" of svclab's controller, marked as
// the cluster's default unless another IngressClass already is (two defaults would make
// the API server reject classless Ingresses in Kubernetes). An existing "svclab" is left
// as it is: a learner may have changed it.
func ensureIngressClass(ctx context.Context, c kubernetes.Interface) error {
	classes, err := c.NetworkingV1().IngressClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list IngressClasses: %w", err)
	}
	class := &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: "svclab", Annotations: map[string]string{ingress.DefaultClassAnnotation: "true"}},
		Spec:       networkingv1.IngressClassSpec{Controller: ingress.ControllerName},
	}
	for _, other := range classes.Items {
		if other.Name != class.Name && other.Annotations[ingress.DefaultClassAnnotation] == "true" {
			class.Annotations = nil
		}
	}
	if _, err := c.NetworkingV1().IngressClasses().Create(ctx, class, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create IngressClass svclab: %w", err)
	}
	return nil
}

// ingressAddon creates the ingress controller: the default IngressClass "svclab", its
// namespace, ServiceAccount, Deployment and Service (LoadBalancer with the lab cloud on,
// NodePort otherwise, on fixed node ports either way).
func (l *Lab) ingressAddon(ctx context.Context) error {
	c := l.client
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: IngressNamespace}}
	if _, err := c.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", IngressNamespace, err)
	}
	if err := ensureIngressClass(ctx, c); err != nil {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ingress-svclab", Namespace: IngressNamespace}}
	if _, err := c.CoreV1().ServiceAccounts(IngressNamespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ServiceAccount ingress-svclab: %w", err)
	}
	labels := map[string]string{"app.kubernetes.io/name": "ingress-svclab", "app.kubernetes.io/component": "controller"}
	svcType := corev1.ServiceTypeNodePort
	if l.opts.Cloud != "none" {
		svcType = corev1.ServiceTypeLoadBalancer
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "ingress-svclab-controller", Namespace: IngressNamespace, Labels: labels},
		Spec: corev1.ServiceSpec{
			Type:     svcType,
			Selector: labels,
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), NodePort: IngressHTTPNodePort},
				{Name: "https", Port: 443, TargetPort: intstr.FromString("https"), NodePort: IngressHTTPSNodePort},
			},
		},
	}
	_, err := c.CoreV1().Services(IngressNamespace).Create(ctx, svc, metav1.CreateOptions{})
	if apierrors.IsInvalid(err) {
		// A --service-node-port-range without the usual ports: let the allocator pick.
		svc.Spec.Ports[0].NodePort, svc.Spec.Ports[1].NodePort = 0, 0
		_, err = c.CoreV1().Services(IngressNamespace).Create(ctx, svc, metav1.CreateOptions{})
	}
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create Service %s/%s: %w", IngressNamespace, svc.Name, err)
	}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "ingress-svclab-controller", Namespace: IngressNamespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: "ingress-svclab",
					Containers: []corev1.Container{{
						Name:  "controller",
						Image: image.Repository + ":" + image.Tags[0],
						Command: []string{"/svclab", "ingress", "--http=:80", "--https=:443", "--metrics-bind-address=:10254",
							"--ingress-class=svclab", "--publish-service=" + IngressNamespace + "/ingress-svclab-controller"},
						// One P, as the benchmark's nginx has one worker: the proxy's goroutine
						// hand-offs (the server's background read, upstream reads) then stay on
						// one thread instead of waking another one per request; on a 2-core
						// lab host this took the proxy from ~1.9k to ~2.8k req/s (labbench).
						Env: []corev1.EnvVar{{Name: "GOMAXPROCS", Value: "1"}},
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}, {Name: "https", ContainerPort: 443},
							{Name: "metrics", ContainerPort: 10254}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
							Path: "/healthz", Port: intstr.FromInt32(10254)}}, PeriodSeconds: 1},
					}},
				},
			},
		},
	}
	if _, err := c.AppsV1().Deployments(IngressNamespace).Create(ctx, dep, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create Deployment %s/%s: %w", IngressNamespace, dep.Name, err)
	}
	return nil
}
