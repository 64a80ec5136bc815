package fuzz

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	apiserver "github.com/svclab/svclab/apiserver-lite"
)

// serviceSeeds are valid and nearly valid Services of every type, the corpus the fuzzer
// mutates.
func serviceSeeds() []*corev1.Service {
	port := func(name string, p, node int32, target intstr.IntOrString) corev1.ServicePort {
		return corev1.ServicePort{Name: name, Port: p, NodePort: node, TargetPort: target, Protocol: corev1.ProtocolTCP}
	}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}}
	}
	return []*corev1.Service{
		{ObjectMeta: meta("web"), Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{port("http", 80, 0, intstr.FromInt32(8080))}}},
		{ObjectMeta: meta("np"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "np"},
			Ports: []corev1.ServicePort{port("http", 80, 30080, intstr.FromString("http"))}}},
		{ObjectMeta: meta("lb"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			Ports: []corev1.ServicePort{port("https", 443, 0, intstr.FromInt32(8443))}, LoadBalancerSourceRanges: []string{"203.0.113.0/24"}}},
		{ObjectMeta: meta("headless"), Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "db"}}},
		{ObjectMeta: meta("ext"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}},
		{ObjectMeta: meta("fixed"), Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.42", ClusterIPs: []string{"10.96.0.42"},
			SessionAffinity: corev1.ServiceAffinityClientIP, ExternalIPs: []string{"203.0.113.7"},
			Ports: []corev1.ServicePort{port("dns", 53, 0, intstr.FromInt32(53)), {Name: "dns-udp", Port: 53, Protocol: corev1.ProtocolUDP}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "Bad_Name"}, Spec: corev1.ServiceSpec{Type: "Weird",
			Ports: []corev1.ServicePort{port("", 0, 99999, intstr.FromString("-"))}}},
	}
}

// encodings returns obj as JSON, YAML and protobuf, each with apiVersion and kind set.
func encodings(t testing.TB, obj runtime.Object, gv schema.GroupVersion) [][]byte {
	t.Helper()
	var out [][]byte
	for _, mediaType := range []string{runtime.ContentTypeJSON, runtime.ContentTypeYAML, runtime.ContentTypeProtobuf} {
		info, ok := runtime.SerializerInfoForMediaType(apiserver.Codecs.SupportedMediaTypes(), mediaType)
		if !ok {
			t.Fatalf("no serializer for %s", mediaType)
		}
		data, err := runtime.Encode(apiserver.Codecs.EncoderForVersion(info.Serializer, gv), obj)
		if err != nil {
			t.Fatalf("encode %T as %s: %v", obj, mediaType, err)
		}
		out = append(out, data)
	}
	return out
}

// rawSeeds are hand-written inputs that exercise the decoders' edge cases.
var rawSeeds = []string{
	`{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},"spec":{"ports":[{"port":80,"targetPort":"http"}]}}`,
	`{"apiVersion":"v1","kind":"Service","metadata":{"name":"a","name":"b"},"spec":{"ports":[{"port":80,"port":81}]}}`,
	`{"apiVersion":"v1","kind":"Service","spec":{"ports":[{"port":1e3}],"unknownField":true}}`,
	`{"apiVersion":"v1","kind":"Service","spec":{"ports":[{"port":"80","nodePort":-1}]}}`,
	`{"apiVersion":"v1","kind":"Service","spec":{"clusterIPs":["10.96.0.1","fd00::1","x"],"ipFamilies":["IPv6","IPv4","IPv4"]}}`,
	"apiVersion: v1\nkind: Service\nmetadata:\n  name: y\nspec:\n  ports:\n  - port: 80\n    targetPort: 8080\n",
	"apiVersion: v1\nkind: Service\nspec: &a\n  selector: *a\n",
	"apiVersion: v1\nkind: Service\nmetadata: {name: [1, 2]}\n",
	`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"k":"v"}}`,
	`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
	`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i","resources":{"limits":{"cpu":"1e400"}}}]}}`,
	`{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"s"},"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"]}]}`,
	`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"i"},"spec":{"rules":[{"host":"*.example.com","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"s","port":{"number":80}}}}]}}]}}`,
	"k8s\x00\n\x0c\n\x02v1\x12\x06Service\x12\x00",
	`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Service"}]}`,
	`[`, `null`, `{}`, `""`, "\xff\xfe", "---\n---\n",
}
