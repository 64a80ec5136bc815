// Package app is the `svclab kube-proxy` program: configuration (flags and kubeadm's
// KubeProxyConfiguration), the API watch, the mode's Proxier, the sync loop and the
// metrics server.
package app
