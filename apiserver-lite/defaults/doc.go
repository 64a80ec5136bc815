// Package defaults ports Kubernetes' API defaulting (pkg/apis/*/v1/defaults.go and the generated
// zz_generated.defaults.go walkers) to the k8s.io/api v1 types, so stored objects read back exactly
// as a real cluster returns them.
package defaults
