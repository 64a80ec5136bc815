package apiserver

import (
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// Scheme holds every type the server serves. k8s.io/apiserver converts each request to an
// "internal" hub version before it reaches storage; svclab has no separate internal types, so
// each versioned type is registered a second time as its own hub. Conversion between the two
// is then a plain copy (runtime.Scheme converts a type known in the target version by copying).
var Scheme = runtime.NewScheme()

// Codecs encodes and decodes Scheme's types as JSON, YAML and protobuf.
var Codecs = serializer.NewCodecFactory(Scheme)

// ParameterCodec decodes query parameters (ListOptions, DeleteOptions, ...).
var ParameterCodec = runtime.NewParameterCodec(Scheme)

// externalScheme holds only the versioned types; OpenAPI definitions are named from it so that
// the x-kubernetes-group-version-kind extension lists real versions only.
var externalScheme = runtime.NewScheme()

// servedGroupVersions lists what the server installs, in discovery order.
var servedGroupVersions = []schema.GroupVersion{
	corev1.SchemeGroupVersion,
	appsv1.SchemeGroupVersion,
	discoveryv1.SchemeGroupVersion,
	eventsv1.SchemeGroupVersion,
	networkingv1.SchemeGroupVersion,
	authenticationv1.SchemeGroupVersion,
	authorizationv1.SchemeGroupVersion,
	autoscalingv1.SchemeGroupVersion,
	coordinationv1.SchemeGroupVersion,
	nodev1.SchemeGroupVersion,
}

func init() {
	adders := []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, discoveryv1.AddToScheme, eventsv1.AddToScheme,
		networkingv1.AddToScheme, authenticationv1.AddToScheme, authorizationv1.AddToScheme,
		autoscalingv1.AddToScheme, coordinationv1.AddToScheme, nodev1.AddToScheme,
	}
	for _, add := range adders {
		if err := add(Scheme); err != nil {
			panic(err)
		}
		if err := add(externalScheme); err != nil {
			panic(err)
		}
	}
	for _, gv := range servedGroupVersions {
		hub := schema.GroupVersion{Group: gv.Group, Version: runtime.APIVersionInternal}
		for kind, t := range Scheme.KnownTypes(gv) {
			if isMetaKind(kind) {
				continue
			}
			Scheme.AddKnownTypeWithName(hub.WithKind(kind), reflectNew(t))
		}
	}
	// The generic server decodes options (ListOptions, DeleteOptions, ...) as core v1 and
	// answers with unversioned Status and discovery types.
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	unversioned := schema.GroupVersion{Group: "", Version: "v1"}
	Scheme.AddUnversionedTypes(unversioned, &metav1.Status{}, &metav1.APIVersions{},
		&metav1.APIGroupList{}, &metav1.APIGroup{}, &metav1.APIResourceList{})
	registerDefaults(Scheme)
	registerFieldLabels(Scheme)
	registerPodLogOptions(Scheme)
	registerConnectOptions(Scheme)
	for _, gv := range servedGroupVersions {
		if err := Scheme.SetVersionPriority(gv); err != nil {
			panic(err)
		}
	}
}

// isMetaKind reports kinds that metav1.AddToGroupVersion registers in every group version.
func isMetaKind(kind string) bool {
	switch kind {
	case "WatchEvent", "ListOptions", "GetOptions", "DeleteOptions", "CreateOptions",
		"UpdateOptions", "PatchOptions", "Status", "APIVersions", "APIGroupList", "APIGroup",
		"APIResourceList":
		return true
	}
	return false
}
