package fuzz

import (
	"bytes"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	apiserver "github.com/svclab/svclab/apiserver-lite"
)

// serviceGVK is what the server assumes for a body POSTed to .../services.
var serviceGVK = schema.GroupVersionKind{Version: "v1", Kind: "Service"}

func addDecodeSeeds(f *testing.F) {
	for _, svc := range serviceSeeds() {
		for _, data := range encodings(f, svc, corev1.SchemeGroupVersion) {
			f.Add(data)
		}
	}
	for _, s := range rawSeeds {
		f.Add([]byte(s))
	}
}

// FuzzDecodeService feeds arbitrary bytes to the decoders the server uses for request bodies
// (the universal deserializer for JSON, YAML and protobuf, and the strict JSON and YAML
// decoders behind fieldValidation=Strict). None may panic, and a decoded Service must survive
// an encode/decode round trip unchanged.
func FuzzDecodeService(f *testing.F) {
	addDecodeSeeds(f)
	strictJSON := strictSerializer(f, runtime.ContentTypeJSON)
	strictYAML := strictSerializer(f, runtime.ContentTypeYAML)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = strictJSON.Decode(data, &serviceGVK, &corev1.Service{})
		_, _, _ = strictYAML.Decode(data, &serviceGVK, &corev1.Service{})
		obj, _, err := apiserver.Codecs.UniversalDeserializer().Decode(data, &serviceGVK, nil)
		if err != nil {
			return
		}
		if svc, ok := obj.(*corev1.Service); ok {
			assertRoundTrip(t, svc)
		}
	})
}

// assertRoundTrip encodes obj as JSON and protobuf; decoding each encoding and encoding it
// again must give the same bytes.
func assertRoundTrip(t *testing.T, obj runtime.Object) {
	t.Helper()
	for _, mediaType := range []string{runtime.ContentTypeJSON, runtime.ContentTypeProtobuf} {
		info, _ := runtime.SerializerInfoForMediaType(apiserver.Codecs.SupportedMediaTypes(), mediaType)
		enc := apiserver.Codecs.EncoderForVersion(info.Serializer, corev1.SchemeGroupVersion)
		first, err := runtime.Encode(enc, obj)
		if err != nil {
			t.Fatalf("encode decoded %T as %s: %v", obj, mediaType, err)
		}
		back, _, err := apiserver.Codecs.UniversalDeserializer().Decode(first, nil, nil)
		if err != nil {
			t.Fatalf("decode our own %s encoding: %v\n%q", mediaType, err, first)
		}
		second, err := runtime.Encode(enc, back)
		if err != nil {
			t.Fatalf("re-encode as %s: %v", mediaType, err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("%s round trip changed the object:\nfirst:  %q\nsecond: %q", mediaType, first, second)
		}
	}
}

func strictSerializer(t testing.TB, mediaType string) runtime.Decoder {
	t.Helper()
	info, ok := runtime.SerializerInfoForMediaType(apiserver.Codecs.SupportedMediaTypes(), mediaType)
	if !ok || info.StrictSerializer == nil {
		t.Fatalf("no strict serializer for %s", mediaType)
	}
	return info.StrictSerializer
}
