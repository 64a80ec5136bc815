// Package userspace is svclab's userspace proxy mode: a Go proxy listening per Service port
// behind the REDIRECT/DNAT portal rules of Kubernetes' historic userspace kube-proxy, with
// round robin, ClientIP affinity, retry on connect failure, and a tracer over its rules and
// live table.
package userspace
