package apiserver

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/svclab/svclab/apiserver-lite/printers"
)

// resource describes one served resource: its names, scope, subresources and how to make
// its objects.
type resource struct {
	gv          schema.GroupVersion
	plural      string
	singular    string
	kind        string
	namespaced  bool
	shortNames  []string
	categories  []string
	status      bool
	newFunc     func() runtime.Object
	newListFunc func() runtime.Object
	// tune adjusts the strategy (validation, preparation) for this resource.
	tune func(*strategy)
	// tuneStatus adjusts the status subresource's strategy.
	tuneStatus func(*statusStrategy)
}

func (r resource) groupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.gv.Group, Resource: r.plural}
}

// resources is every stored resource the server serves.
var resources = []resource{
	{gv: corev1.SchemeGroupVersion, plural: "namespaces", singular: "namespace", kind: "Namespace", shortNames: []string{"ns"}, status: true,
		newFunc: func() runtime.Object { return &corev1.Namespace{} }, newListFunc: func() runtime.Object { return &corev1.NamespaceList{} }},
	{gv: corev1.SchemeGroupVersion, plural: "nodes", singular: "node", kind: "Node", shortNames: []string{"no"}, status: true,
		newFunc: func() runtime.Object { return &corev1.Node{} }, newListFunc: func() runtime.Object { return &corev1.NodeList{} }},
	{gv: corev1.SchemeGroupVersion, plural: "pods", singular: "pod", kind: "Pod", namespaced: true, shortNames: []string{"po"}, categories: []string{"all"}, status: true,
		newFunc: func() runtime.Object { return &corev1.Pod{} }, newListFunc: func() runtime.Object { return &corev1.PodList{} }},
	{gv: corev1.SchemeGroupVersion, plural: "services", singular: "service", kind: "Service", namespaced: true, shortNames: []string{"svc"}, categories: []string{"all"}, status: true,
		newFunc: func() runtime.Object { return &corev1.Service{} }, newListFunc: func() runtime.Object { return &corev1.ServiceList{} }},
	{gv: corev1.SchemeGroupVersion, plural: "endpoints", singular: "endpoints", kind: "Endpoints", namespaced: true, shortNames: []string{"ep"},
		newFunc: func() runtime.Object { return &corev1.Endpoints{} }, newListFunc: func() runtime.Object { return &corev1.EndpointsList{} },
		tune: func(s *strategy) { s.allowCreateOnUpdate = true }},
	{gv: corev1.SchemeGroupVersion, plural: "events", singular: "event", kind: "Event", namespaced: true, shortNames: []string{"ev"},
		newFunc: func() runtime.Object { return &corev1.Event{} }, newListFunc: func() runtime.Object { return &corev1.EventList{} }},
	{gv: corev1.SchemeGroupVersion, plural: "configmaps", singular: "configmap", kind: "ConfigMap", namespaced: true, shortNames: []string{"cm"},
		newFunc: func() runtime.Object { return &corev1.ConfigMap{} }, newListFunc: func() runtime.Object { return &corev1.ConfigMapList{} }},
	{gv: corev1.SchemeGroupVersion, plural: "secrets", singular: "secret", kind: "Secret", namespaced: true,
		newFunc: func() runtime.Object { return &corev1.Secret{} }, newListFunc: func() runtime.Object { return &corev1.SecretList{} }},
	{gv: corev1.SchemeGroupVersion, plural: "serviceaccounts", singular: "serviceaccount", kind: "ServiceAccount", namespaced: true, shortNames: []string{"sa"},
		newFunc: func() runtime.Object { return &corev1.ServiceAccount{} }, newListFunc: func() runtime.Object { return &corev1.ServiceAccountList{} }},

	{gv: appsv1.SchemeGroupVersion, plural: "deployments", singular: "deployment", kind: "Deployment", namespaced: true, shortNames: []string{"deploy"}, categories: []string{"all"}, status: true,
		newFunc: func() runtime.Object { return &appsv1.Deployment{} }, newListFunc: func() runtime.Object { return &appsv1.DeploymentList{} }},
	{gv: appsv1.SchemeGroupVersion, plural: "replicasets", singular: "replicaset", kind: "ReplicaSet", namespaced: true, shortNames: []string{"rs"}, categories: []string{"all"}, status: true,
		newFunc: func() runtime.Object { return &appsv1.ReplicaSet{} }, newListFunc: func() runtime.Object { return &appsv1.ReplicaSetList{} }},
	{gv: appsv1.SchemeGroupVersion, plural: "daemonsets", singular: "daemonset", kind: "DaemonSet", namespaced: true, shortNames: []string{"ds"}, categories: []string{"all"}, status: true,
		newFunc: func() runtime.Object { return &appsv1.DaemonSet{} }, newListFunc: func() runtime.Object { return &appsv1.DaemonSetList{} }},
	{gv: appsv1.SchemeGroupVersion, plural: "controllerrevisions", singular: "controllerrevision", kind: "ControllerRevision", namespaced: true,
		newFunc: func() runtime.Object { return &appsv1.ControllerRevision{} }, newListFunc: func() runtime.Object { return &appsv1.ControllerRevisionList{} }},

	{gv: discoveryv1.SchemeGroupVersion, plural: "endpointslices", singular: "endpointslice", kind: "EndpointSlice", namespaced: true,
		newFunc: func() runtime.Object { return &discoveryv1.EndpointSlice{} }, newListFunc: func() runtime.Object { return &discoveryv1.EndpointSliceList{} }},
	{gv: eventsv1.SchemeGroupVersion, plural: "events", singular: "event", kind: "Event", namespaced: true, shortNames: []string{"ev"},
		newFunc: func() runtime.Object { return &eventsv1.Event{} }, newListFunc: func() runtime.Object { return &eventsv1.EventList{} }},

	{gv: networkingv1.SchemeGroupVersion, plural: "ingresses", singular: "ingress", kind: "Ingress", namespaced: true, shortNames: []string{"ing"}, status: true,
		newFunc: func() runtime.Object { return &networkingv1.Ingress{} }, newListFunc: func() runtime.Object { return &networkingv1.IngressList{} }},
	{gv: networkingv1.SchemeGroupVersion, plural: "ingressclasses", singular: "ingressclass", kind: "IngressClass",
		newFunc: func() runtime.Object { return &networkingv1.IngressClass{} }, newListFunc: func() runtime.Object { return &networkingv1.IngressClassList{} }},
	{gv: networkingv1.SchemeGroupVersion, plural: "servicecidrs", singular: "servicecidr", kind: "ServiceCIDR", status: true,
		newFunc: func() runtime.Object { return &networkingv1.ServiceCIDR{} }, newListFunc: func() runtime.Object { return &networkingv1.ServiceCIDRList{} }},
	{gv: networkingv1.SchemeGroupVersion, plural: "ipaddresses", singular: "ipaddress", kind: "IPAddress", shortNames: []string{"ip"},
		newFunc: func() runtime.Object { return &networkingv1.IPAddress{} }, newListFunc: func() runtime.Object { return &networkingv1.IPAddressList{} }},

	{gv: coordinationv1.SchemeGroupVersion, plural: "leases", singular: "lease", kind: "Lease", namespaced: true,
		newFunc: func() runtime.Object { return &coordinationv1.Lease{} }, newListFunc: func() runtime.Object { return &coordinationv1.LeaseList{} }},
	{gv: nodev1.SchemeGroupVersion, plural: "runtimeclasses", singular: "runtimeclass", kind: "RuntimeClass",
		newFunc: func() runtime.Object { return &nodev1.RuntimeClass{} }, newListFunc: func() runtime.Object { return &nodev1.RuntimeClassList{} }},
}

// REST is the storage of one resource; it adds discovery names to the generic store.
type REST struct {
	*genericregistry.Store
	res resource
}

func (r *REST) ShortNames() []string    { return r.res.shortNames }
func (r *REST) Categories() []string    { return r.res.categories }
func (r *REST) GetSingularName() string { return r.res.singular }

var (
	_ rest.ShortNamesProvider   = (*REST)(nil)
	_ rest.CategoriesProvider   = (*REST)(nil)
	_ rest.SingularNameProvider = (*REST)(nil)
)

// StatusREST serves the status subresource of a resource.
type StatusREST struct {
	store *genericregistry.Store
}

func (r *StatusREST) New() runtime.Object { return r.store.New() }
func (r *StatusREST) Destroy()            {}
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// Status updates never create the object.
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}
func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}
func (r *StatusREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}

// newStore builds the generic registry store (and its status store) for a resource.
func newStore(res resource, optsGetter generic.RESTOptionsGetter) (*REST, *StatusREST, error) {
	s := &strategy{ObjectTyper: Scheme, NameGenerator: names.SimpleNameGenerator, gv: res.gv,
		namespaced: res.namespaced, hasStatus: res.status}
	applyHooks(res, s)
	if res.tune != nil {
		res.tune(s)
	}
	gr := res.groupResource()
	store := &genericregistry.Store{
		NewFunc:                   res.newFunc,
		NewListFunc:               res.newListFunc,
		DefaultQualifiedResource:  gr,
		SingularQualifiedResource: schema.GroupResource{Group: res.gv.Group, Resource: res.singular},
		PredicateFunc:             nil,
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		ResetFieldsStrategy:       s,
		TableConvertor:            printers.TableConvertor(gr),
	}
	if _, ok := res.newFunc().(*corev1.Pod); ok {
		store.DeleteStrategy = podDeleteStrategy{s}
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: getAttrs}); err != nil {
		return nil, nil, fmt.Errorf("set up storage for %s: %w", gr, err)
	}
	main := &REST{Store: store, res: res}
	if !res.status {
		return main, nil, nil
	}
	ss := &statusStrategy{strategy: s}
	applyStatusHooks(res, ss)
	if res.tuneStatus != nil {
		res.tuneStatus(ss)
	}
	statusStore := *store
	statusStore.UpdateStrategy = ss
	statusStore.ResetFieldsStrategy = ss
	return main, &StatusREST{store: &statusStore}, nil
}
