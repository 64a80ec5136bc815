package apiserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apiserver/pkg/registry/rest"
)

// proxyMethods are the verbs pods/proxy and services/proxy forward.
var proxyMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// proxyTransport reaches pod IPs from the API server's host (the lab routes them there).
// Like kube-apiserver's proxy transport it does not verify backends' certificates and never
// goes through HTTP(S)_PROXY.
var proxyTransport = &http.Transport{
	DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // upstream's proxy transport skips verification too
	TLSHandshakeTimeout: 10 * time.Second,
	MaxIdleConnsPerHost: 4,
	IdleConnTimeout:     90 * time.Second,
}

// connectProxy proxies a request to where locate points for id, with the request's extra
// path appended (pods/proxy and services/proxy differ only in locate).
func connectProxy(ctx context.Context, id, path string, locate func(context.Context, string) (*url.URL, error), responder rest.Responder) (http.Handler, error) {
	loc, err := locate(ctx, id)
	if err != nil {
		return nil, err
	}
	loc.Path = utilnet.JoinPreservingTrailingSlash(loc.Path, path)
	return httpProxy(loc, proxyTransport, responder), nil
}

// podProxyREST serves pods/proxy: NAME, NAME:PORT or SCHEME:NAME:PORT.
type podProxyREST struct {
	s    *Server
	pods *REST
}

var _ rest.Connecter = (*podProxyREST)(nil)

func (r *podProxyREST) New() runtime.Object { return &corev1.PodProxyOptions{} }
func (r *podProxyREST) Destroy()            {}
func (r *podProxyREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodProxyOptions{}, true, "path"
}
func (r *podProxyREST) ConnectMethods() []string { return proxyMethods }

func (r *podProxyREST) Connect(ctx context.Context, id string, options runtime.Object, responder rest.Responder) (http.Handler, error) {
	o, ok := options.(*corev1.PodProxyOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options object: %#v", options))
	}
	return connectProxy(ctx, id, o.Path, r.location, responder)
}

// location is upstream's pod.ResourceLocation: the pod IP and the port asked for (a number
// or a container port's name), else the first declared container port.
func (r *podProxyREST) location(ctx context.Context, id string) (*url.URL, error) {
	scheme, name, port, valid := utilnet.SplitSchemeNamePort(id)
	if !valid {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid pod request %q", id))
	}
	obj, err := r.pods.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	pod := obj.(*corev1.Pod)
	if port == "" {
		for _, c := range pod.Spec.Containers {
			if len(c.Ports) > 0 {
				port = strconv.Itoa(int(c.Ports[0].ContainerPort))
				break
			}
		}
	} else if _, err := strconv.Atoi(port); err != nil {
		named := ""
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == port && named == "" {
					named = strconv.Itoa(int(p.ContainerPort))
				}
			}
		}
		if named == "" {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %q has no container port named %q", name, port))
		}
		port = named
	}
	ip, err := netip.ParseAddr(pod.Status.PodIP)
	if err != nil || !net.IP(ip.AsSlice()).IsGlobalUnicast() {
		return nil, apierrors.NewBadRequest("address not allowed")
	}
	if scheme == "" {
		scheme = "http"
	}
	loc := &url.URL{Scheme: scheme, Host: ip.String()}
	if ip.Is6() {
		loc.Host = "[" + ip.String() + "]"
	}
	if port != "" {
		loc.Host = net.JoinHostPort(ip.String(), port)
	}
	return loc, nil
}

// serviceProxyREST serves services/proxy: NAME, NAME:PORT or SCHEME:NAME:PORT, where PORT
// is a port name or number; requests go to a random ready endpoint of that port.
type serviceProxyREST struct {
	s        *Server
	services *REST
}

var _ rest.Connecter = (*serviceProxyREST)(nil)

func (r *serviceProxyREST) New() runtime.Object { return &corev1.ServiceProxyOptions{} }
func (r *serviceProxyREST) Destroy()            {}
func (r *serviceProxyREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.ServiceProxyOptions{}, true, "path"
}
func (r *serviceProxyREST) ConnectMethods() []string { return proxyMethods }

func (r *serviceProxyREST) Connect(ctx context.Context, id string, options runtime.Object, responder rest.Responder) (http.Handler, error) {
	o, ok := options.(*corev1.ServiceProxyOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options object: %#v", options))
	}
	return connectProxy(ctx, id, o.Path, r.location, responder)
}

// location is upstream's service ResourceLocation over EndpointSlices.
func (r *serviceProxyREST) location(ctx context.Context, id string) (*url.URL, error) {
	scheme, name, port, valid := utilnet.SplitSchemeNamePort(id)
	if !valid {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid service request %q", id))
	}
	obj, err := r.services.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	svc := obj.(*corev1.Service)
	if n, err := strconv.ParseInt(port, 10, 32); err == nil {
		found := false
		for _, p := range svc.Spec.Ports {
			if int64(p.Port) == n {
				port, found = p.Name, true
				break
			}
		}
		if !found {
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %d found for service %q", n, name))
		}
	}
	slices, err := r.endpointSlices(ctx, name)
	if err != nil {
		return nil, err
	}
	family := corev1.IPFamilyUnknown
	if len(svc.Spec.IPFamilies) > 0 {
		family = svc.Spec.IPFamilies[0]
	}
	hostPort, err := randomEndpoint(name, slices, port, family)
	if err != nil {
		return nil, err
	}
	if scheme == "" {
		scheme = "http"
	}
	return &url.URL{Scheme: scheme, Host: hostPort}, nil
}

// endpointSlices lists the Service's EndpointSlices (label kubernetes.io/service-name).
func (r *serviceProxyREST) endpointSlices(ctx context.Context, service string) ([]*discoveryv1.EndpointSlice, error) {
	store := r.s.stores[discoveryv1.Resource("endpointslices")]
	if store == nil {
		return nil, nil
	}
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: service})
	obj, err := store.List(ctx, &metainternalversion.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	list, ok := obj.(*discoveryv1.EndpointSliceList)
	if !ok {
		return nil, fmt.Errorf("list endpointslices: unexpected %T", obj)
	}
	out := make([]*discoveryv1.EndpointSlice, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out, nil
}

// randomEndpoint is upstream's RandomEndpoint: a random ready endpoint serving the port,
// slices of the Service's primary family first.
func randomEndpoint(svcName string, slices []*discoveryv1.EndpointSlice, portName string, family corev1.IPFamily) (string, error) {
	order := rand.Perm(len(slices))
	sort.SliceStable(order, func(i, j int) bool {
		a, b := slices[order[i]], slices[order[j]]
		return a.AddressType != b.AddressType && a.AddressType == discoveryv1.AddressType(family)
	})
	for _, i := range order {
		slice := slices[i]
		for _, p := range slice.Ports {
			if p.Name == nil || *p.Name != portName || p.Port == nil || len(slice.Endpoints) == 0 {
				continue
			}
			offset := rand.IntN(len(slice.Endpoints))
			for e := range slice.Endpoints {
				ep := &slice.Endpoints[(e+offset)%len(slice.Endpoints)]
				if (ep.Conditions.Ready != nil && !*ep.Conditions.Ready) || len(ep.Addresses) == 0 {
					continue
				}
				return net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(*p.Port))), nil
			}
		}
	}
	return "", apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", svcName))
}
