// Package proxy is the backend-neutral half of svclab's kube-proxy: it turns Services and
// EndpointSlices into per-port state for one node, tracks what changed between syncs, and
// defines the Proxier interface each mode (iptables, nftables, ipvs, userspace) implements.
package proxy
