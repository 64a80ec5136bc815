// Package pki creates and keeps the API server's certificate authority, serving certificate, admin client
// certificate, service-account signing key and kubeconfig on disk, the way kubeadm and kind lay them out.
package pki
