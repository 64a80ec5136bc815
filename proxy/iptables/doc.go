// Package iptables is svclab's kube-proxy iptables mode: it renders Services into the nat
// and filter tables exactly as upstream kube-proxy's iptables proxier does, applies them
// with one iptables-restore per sync, and traces packets through iptables-save output.
package iptables
