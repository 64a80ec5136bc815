// Package nftables is svclab's nftables proxy mode: upstream kube-proxy's `ip kube-proxy`
// table written through sigs.k8s.io/knftables in one transaction per sync, and a packet
// tracer that walks the live `nft list table` text.
package nftables
