package openapi

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kube-openapi/pkg/builder3"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

const refPrefix = "#/definitions/"

// definitions returns the generated definitions with references rendered as "#/definitions/<name>".
func definitions() map[string]common.OpenAPIDefinition {
	return GetOpenAPIDefinitions(func(name string) spec.Ref {
		return spec.MustCreateRef(refPrefix + name)
	})
}

func TestDefinitionsExist(t *testing.T) {
	defs := definitions()
	tests := []struct {
		name      string
		modelName string // what the type itself reports via OpenAPIModelName
		want      string // the name kubectl and the TypeConverter expect
		kind      string // a property that must be in the schema
	}{
		{"Service", corev1.Service{}.OpenAPIModelName(), "io.k8s.api.core.v1.Service", "spec"},
		{"Deployment", appsv1.Deployment{}.OpenAPIModelName(), "io.k8s.api.apps.v1.Deployment", "spec"},
		{"IPAddress", networkingv1.IPAddress{}.OpenAPIModelName(), "io.k8s.api.networking.v1.IPAddress", "spec"},
		{"ObjectMeta", metav1.ObjectMeta{}.OpenAPIModelName(), "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.modelName != tt.want {
				t.Errorf("OpenAPIModelName() = %q, want %q", tt.modelName, tt.want)
			}
			def, ok := defs[tt.want]
			if !ok {
				t.Fatalf("no definition for %q (of %d definitions)", tt.want, len(defs))
			}
			if _, ok := def.Schema.Properties[tt.kind]; !ok {
				t.Errorf("definition %q has no property %q", tt.want, tt.kind)
			}
		})
	}
}

func TestNoDanglingReferences(t *testing.T) {
	defs := definitions()
	if len(defs) < 400 {
		t.Errorf("got %d definitions, want at least 400: was a package left out of hack/update-openapi.sh?", len(defs))
	}
	for _, name := range sortedNames(defs) {
		def := defs[name]
		if strings.Contains(name, "/") {
			t.Errorf("definition %q is keyed by Go package path, not by model name", name)
		}
		deps := make(map[string]bool, len(def.Dependencies))
		for _, dep := range def.Dependencies {
			deps[dep] = true
			if _, ok := defs[dep]; !ok {
				t.Errorf("%s: dependency %q has no definition", name, dep)
			}
		}
		refs, err := schemaRefs(def.Schema)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, ref := range refs {
			if _, ok := defs[ref]; !ok {
				t.Errorf("%s: $ref %q has no definition", name, ref)
			}
			if !deps[ref] {
				t.Errorf("%s: $ref %q is not listed in Dependencies", name, ref)
			}
		}
	}
}

// TestBuilderResolvesAll builds every definition the way the served OpenAPI v3 documents do,
// which fails on "cannot find model definition" for anything left out of the generation.
func TestBuilderResolvesAll(t *testing.T) {
	names := sortedNames(definitions())
	cfg := &common.OpenAPIV3Config{
		Info:           &spec.Info{InfoProps: spec.InfoProps{Title: "svclab", Version: "test"}},
		GetDefinitions: GetOpenAPIDefinitions,
	}
	schemas, err := builder3.BuildOpenAPIDefinitionsForResources(cfg, names...)
	if err != nil {
		t.Fatalf("BuildOpenAPIDefinitionsForResources: %v", err)
	}
	if len(schemas) != len(names) {
		t.Errorf("built %d schemas, want %d", len(schemas), len(names))
	}
}

func sortedNames(defs map[string]common.OpenAPIDefinition) []string {
	names := make([]string, 0, len(defs))
	for name := range defs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// schemaRefs returns the definition names that a schema references through "$ref", at any depth.
func schemaRefs(s spec.Schema) ([]string, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if ref, ok := child.(string); ok && k == "$ref" {
					refs = append(refs, strings.TrimPrefix(ref, refPrefix))
					continue
				}
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(doc)
	return refs, nil
}
