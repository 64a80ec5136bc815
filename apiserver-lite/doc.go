// Package apiserver is svclab's Kubernetes-compatible API server: k8s.io/api types served by
// k8s.io/apiserver's generic machinery over an embedded etcd, with Kubernetes' own defaulting,
// validation, allocation and table output for the resources a Services course needs.
package apiserver
