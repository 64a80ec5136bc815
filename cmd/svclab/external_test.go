package main

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/yaml"
)

func TestExternalManifest(t *testing.T) {
	docs := strings.Split(externalManifest("legacy", netip.MustParseAddr("172.30.0.200"), 8080), "---\n")
	if len(docs) != 2 {
		t.Fatalf("%d documents, want 2", len(docs))
	}
	var svc corev1.Service
	var es discoveryv1.EndpointSlice
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &svc); err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &es); err != nil {
		t.Fatal(err)
	}
	if svc.Name != "legacy" || svc.Spec.Selector != nil || svc.Spec.Ports[0].TargetPort.IntValue() != 8080 {
		t.Errorf("service = %+v", svc)
	}
	if es.Labels[discoveryv1.LabelServiceName] != "legacy" || es.Endpoints[0].Addresses[0] != "172.30.0.200" ||
		*es.Ports[0].Port != 8080 || *es.Ports[0].Name != svc.Spec.Ports[0].Name {
		t.Errorf("endpointslice = %+v", es)
	}
}
