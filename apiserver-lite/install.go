package apiserver

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"

	"github.com/svclab/svclab/apiserver-lite/service"
)

// installAPIs builds every store and installs the API groups.
func (s *Server) installAPIs() error {
	getter := restOptionsGetter{etcdURL: s.etcdURL}
	storage := map[schema.GroupVersion]map[string]rest.Storage{}
	add := func(gv schema.GroupVersion, path string, st rest.Storage) {
		if storage[gv] == nil {
			storage[gv] = map[string]rest.Storage{}
		}
		storage[gv][path] = st
	}
	for _, res := range resources {
		if res.gv == corev1.SchemeGroupVersion && res.plural == "namespaces" {
			res.tune = func(st *strategy) {
				prev := st.prepareCreate
				st.prepareCreate = func(obj runtime.Object) {
					ns := obj.(*corev1.Namespace)
					ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
					if len(ns.Spec.Finalizers) == 0 {
						ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
					}
					if prev != nil {
						prev(obj)
					}
				}
			}
		}
		main, status, err := newStore(res, getter)
		if err != nil {
			return err
		}
		s.stores[res.groupResource()] = main
		var st rest.Storage = main
		if res.gv == corev1.SchemeGroupVersion && res.plural == "namespaces" {
			ns := &namespaceREST{REST: main}
			st = ns
			add(res.gv, "namespaces/finalize", &finalizeREST{ns: ns})
		}
		add(res.gv, res.plural, st)
		if status != nil {
			add(res.gv, res.plural+"/status", status)
		}
		switch res.kind {
		case "ServiceAccount":
			add(res.gv, "serviceaccounts/token", &tokenREST{s: s})
		case "Deployment", "ReplicaSet":
			add(res.gv, res.plural+"/scale", &scaleREST{store: main.Store, gr: res.groupResource()})
		case "Pod":
			if res.gv.Group == "" {
				add(res.gv, "pods/binding", &bindingREST{pods: main.Store})
				add(res.gv, "pods/log", &logREST{pods: main, logs: &s.podLogs})
				add(res.gv, "pods/exec", &execREST{s: s, pods: main})
				add(res.gv, "pods/attach", &attachREST{s: s, pods: main})
				add(res.gv, "pods/portforward", &portForwardREST{s: s, pods: main})
				add(res.gv, "pods/proxy", &podProxyREST{s: s, pods: main})
			}
		case "Service":
			if res.gv.Group == "" {
				add(res.gv, "services/proxy", &serviceProxyREST{s: s, services: main})
			}
		}
	}
	add(authorizationv1.SchemeGroupVersion, "selfsubjectaccessreviews", selfSubjectAccessReviewREST{})
	add(authorizationv1.SchemeGroupVersion, "selfsubjectrulesreviews", selfSubjectRulesReviewREST{})
	add(authenticationv1.SchemeGroupVersion, "selfsubjectreviews", selfSubjectReviewREST{})

	alloc, err := service.NewAllocators(s.opts.ServiceClusterIPRange, s.opts.ServiceNodePortRange,
		ipAddressStore{store: s.stores[networkingv1.Resource("ipaddresses")].Store}, service.WithLogger(s.opts.Log))
	if err != nil {
		return fmt.Errorf("service allocators: %w", err)
	}
	services := s.stores[corev1.Resource("services")].Store
	wireServiceAllocation(services, alloc)
	if err := restoreServiceAllocation(context.Background(), services, alloc); err != nil {
		return fmt.Errorf("restore service allocations: %w", err)
	}

	var groups []*genericapiserver.APIGroupInfo
	for _, gv := range servedGroupVersions {
		if storage[gv] == nil {
			continue
		}
		info := genericapiserver.NewDefaultAPIGroupInfo(gv.Group, Scheme, ParameterCodec, Codecs)
		info.PrioritizedVersions = []schema.GroupVersion{gv}
		info.VersionedResourcesStorageMap[gv.Version] = storage[gv]
		if gv.Group == "" {
			if err := s.generic.InstallLegacyAPIGroup(genericapiserver.DefaultLegacyAPIPrefix, &info); err != nil {
				return fmt.Errorf("install core API: %w", err)
			}
			continue
		}
		groups = append(groups, &info)
	}
	if err := s.generic.InstallAPIGroups(groups...); err != nil {
		return fmt.Errorf("install API groups: %w", err)
	}
	return nil
}
