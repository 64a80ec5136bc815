package apiserver

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/apiserver-lite/satoken"
	"github.com/svclab/svclab/apiserver-lite/service"
)

// bootstrap creates what every cluster has at start: the system namespaces, the default
// ServiceCIDR and the `kubernetes` Service (with its endpoints when an advertise address
// is set). It retries until the server answers, and leaves existing objects alone.
func (s *Server) bootstrap(ctx context.Context, cfg *restclient.Config) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := s.bootstrapOnce(ctx, client); err != nil {
			s.opts.Log.Info("bootstrap not done yet", "err", err)
			return false, nil
		}
		return true, nil
	})
}

func (s *Server) bootstrapOnce(ctx context.Context, client kubernetes.Interface) error {
	for _, name := range []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	cidr := service.DefaultServiceCIDR(s.opts.ServiceClusterIPRange)
	if _, err := client.NetworkingV1().ServiceCIDRs().Get(ctx, cidr.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		created, err := client.NetworkingV1().ServiceCIDRs().Create(ctx, cidr, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create ServiceCIDR: %w", err)
		}
		created.Status = cidr.Status
		if _, err := client.NetworkingV1().ServiceCIDRs().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("set ServiceCIDR status: %w", err)
		}
	} else if err != nil {
		return err
	}

	port := int32(s.listener.Addr().(*net.TCPAddr).Port)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: firstIP(s.opts.ServiceClusterIPRange).String(),
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(port)}},
			SessionAffinity: corev1.ServiceAffinityNone,
			Type:            corev1.ServiceTypeClusterIP,
		},
	}
	// Look before creating: on a restart the Service exists, and a create would fail on its
	// ClusterIP ("provided IP is already allocated") before the name is checked.
	if _, err := client.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, svc.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := client.CoreV1().Services(metav1.NamespaceDefault).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create the kubernetes Service: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("get the kubernetes Service: %w", err)
	}
	if s.opts.AdvertiseAddress == nil {
		return nil
	}
	return s.reconcileKubernetesEndpoints(ctx, client, port)
}

// reconcileKubernetesEndpoints publishes the advertise address as the endpoint of the
// `kubernetes` Service, as kube-apiserver's endpoint reconciler does.
func (s *Server) reconcileKubernetesEndpoints(ctx context.Context, client kubernetes.Interface, port int32) error {
	ip := s.opts.AdvertiseAddress.String()
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{discoveryv1.LabelSkipMirror: "true"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: ip}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: port, Protocol: corev1.ProtocolTCP}},
		}},
	}
	if _, err := client.CoreV1().Endpoints(metav1.NamespaceDefault).Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("publish kubernetes endpoints: %w", err)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	existing, err := client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Create(ctx, slice, metav1.CreateOptions{})
	case err == nil:
		slice.ResourceVersion = existing.ResourceVersion
		_, err = client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Update(ctx, slice, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("publish kubernetes endpointslice: %w", err)
	}
	return nil
}

// firstIP is the first usable address of a range: the `kubernetes` Service's ClusterIP.
func firstIP(p netip.Prefix) netip.Addr {
	return p.Masked().Addr().Next()
}

// saGetter looks service accounts and pods up for the token authenticator, straight from
// storage.
func (s *Server) saGetter() satoken.Getter {
	return satoken.GetterFuncs{
		ServiceAccount: func(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
			obj, err := s.stores[corev1.Resource("serviceaccounts")].Get(genericapirequest.WithNamespace(ctx, namespace), name, &metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return obj.(*corev1.ServiceAccount), nil
		},
		Pod: func(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
			obj, err := s.stores[corev1.Resource("pods")].Get(genericapirequest.WithNamespace(ctx, namespace), name, &metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return obj.(*corev1.Pod), nil
		},
	}
}
