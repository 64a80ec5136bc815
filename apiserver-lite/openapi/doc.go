// Package openapi holds the generated OpenAPI definitions of the k8s.io/api types apiserver-lite serves; regenerate with hack/update-openapi.sh.
package openapi
