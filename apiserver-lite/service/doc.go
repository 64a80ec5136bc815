// Package service holds kube-apiserver's Service-specific logic (defaulting, validation, the
// REST strategy and the ClusterIP/NodePort allocators) ported to k8s.io/api core/v1 types.
package service
