package fuzz

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	apiserver "github.com/svclab/svclab/apiserver-lite"
	"github.com/svclab/svclab/apiserver-lite/service"
	"github.com/svclab/svclab/apiserver-lite/validation"
)

// FuzzValidateService decodes two Services (new and old), prepares and defaults them as the
// server does, and runs create, update and status-update validation. Nothing may panic, and
// every error must name a field.
func FuzzValidateService(f *testing.F) {
	seeds := serviceSeeds()
	for i, svc := range seeds {
		old := seeds[(i+1)%len(seeds)]
		for j, data := range encodings(f, svc, corev1.SchemeGroupVersion) {
			f.Add(data, encodings(f, old, corev1.SchemeGroupVersion)[j])
		}
	}
	f.Add([]byte(rawSeeds[0]), []byte(rawSeeds[3]))
	f.Fuzz(func(t *testing.T, data, oldData []byte) {
		svc, ok := decodeService(data)
		if !ok {
			return
		}
		prepared := svc.DeepCopy()
		service.PrepareForCreate(prepared)
		service.SetDefaults(prepared)
		checkErrors(t, "Validate", service.Validate(prepared))

		old, ok := decodeService(oldData)
		if !ok {
			old = svc.DeepCopy()
		}
		service.SetDefaults(old)
		updated := svc.DeepCopy()
		updated.ResourceVersion = "1"
		old.ResourceVersion = "1"
		service.PrepareForUpdate(updated, old)
		service.SetDefaults(updated)
		checkErrors(t, "ValidateUpdate", service.ValidateUpdate(updated, old))
		status := old.DeepCopy()
		status.Status = svc.Status
		service.PrepareForStatusUpdate(status, old)
		checkErrors(t, "ValidateStatusUpdate", service.ValidateStatusUpdate(status, old))
	})
}

// FuzzValidateObject decodes any served kind, applies the scheme's defaults as the server
// does, and runs the generic validation (create, update against itself, status update).
func FuzzValidateObject(f *testing.F) {
	addDecodeSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, _, err := apiserver.Codecs.UniversalDeserializer().Decode(data, nil, nil)
		if err != nil {
			return
		}
		if _, isService := obj.(*corev1.Service); isService {
			return // FuzzValidateService covers Services
		}
		apiserver.Scheme.Default(obj)
		checkErrors(t, "Validate", validation.Validate(obj))
		old := obj.DeepCopyObject()
		checkErrors(t, "ValidateUpdate", validation.ValidateUpdate(obj, old))
		checkErrors(t, "ValidateStatusUpdate", validation.ValidateStatusUpdate(obj, old))
		_ = validation.NameFunc(obj)
	})
}

func decodeService(data []byte) (*corev1.Service, bool) {
	obj, _, err := apiserver.Codecs.UniversalDeserializer().Decode(data, &serviceGVK, &corev1.Service{})
	if err != nil {
		return nil, false
	}
	svc, ok := obj.(*corev1.Service)
	return svc, ok
}

// checkErrors fails on an error without a field path (the server reports each as
// `field: message` and kubectl prints the path) and formats every error, as the server does.
func checkErrors(t *testing.T, what string, errs field.ErrorList) {
	t.Helper()
	for _, e := range errs {
		if e.Field == "" {
			t.Errorf("%s: error without a field path: %v", what, e)
		}
		_ = e.Error()
	}
	_ = errs.ToAggregate()
}
