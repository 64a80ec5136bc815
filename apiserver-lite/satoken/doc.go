// Package satoken issues and verifies service-account tokens: signed JWTs with kube-apiserver's bound-token
// claims, checked against the live ServiceAccount (and Pod) like kube-apiserver's service-account authenticator.
package satoken
