// Package validation ports Kubernetes' API validation (pkg/apis/{core,apps,discovery,networking}/validation)
// to the k8s.io/api v1 types, with upstream's messages and field paths.
package validation
