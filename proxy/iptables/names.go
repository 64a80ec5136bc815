package iptables

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"

	"github.com/svclab/svclab/proxy"
)

// Top-level chains, named as upstream names them.
const (
	kubeServicesChain         = "KUBE-SERVICES"
	kubeExternalServicesChain = "KUBE-EXTERNAL-SERVICES"
	kubeNodePortsChain        = "KUBE-NODEPORTS"
	kubePostroutingChain      = "KUBE-POSTROUTING"
	kubeMarkMasqChain         = "KUBE-MARK-MASQ"
	kubeForwardChain          = "KUBE-FORWARD"
	kubeProxyFirewallChain    = "KUBE-PROXY-FIREWALL"
)

// Per-Service chain prefixes (upstream's servicePort*ChainNamePrefix constants).
const (
	clusterPolicyChainPrefix = "KUBE-SVC-"
	localPolicyChainPrefix   = "KUBE-SVL-"
	firewallChainPrefix      = "KUBE-FW-"
	externalChainPrefix      = "KUBE-EXT-"
	endpointChainPrefix      = "KUBE-SEP-"
)

// largeClusterEndpointsThreshold is upstream's switch to "large cluster mode": above this
// many endpoints, per-endpoint comments are left out to keep the tables small.
const largeClusterEndpointsThreshold = 1000

// portProtoHash is upstream's: sha256 of "ns/name:port" + lower-case protocol, base32,
// the first 16 characters (iptables chain names are at most 28 characters).
func portProtoHash(servicePortName, protocol string) string {
	hash := sha256.Sum256([]byte(servicePortName + protocol))
	return base32.StdEncoding.EncodeToString(hash[:])[:16]
}

// ServiceChainName returns the KUBE-SVC-<hash> chain of a Service port (its Cluster
// traffic policy chain), e.g. KUBE-SVC-XPGD46QRK7WJZT7O for ns1/svc1:p80 over TCP.
func ServiceChainName(name proxy.ServicePortName) string {
	return clusterPolicyChainPrefix + portProtoHash(name.String(), protocolOf(name))
}

// LocalChainName returns the KUBE-SVL-<hash> chain (Local traffic policy endpoints).
func LocalChainName(name proxy.ServicePortName) string {
	return localPolicyChainPrefix + portProtoHash(name.String(), protocolOf(name))
}

// ExternalChainName returns the KUBE-EXT-<hash> chain (NodePort, externalIP and load
// balancer traffic).
func ExternalChainName(name proxy.ServicePortName) string {
	return externalChainPrefix + portProtoHash(name.String(), protocolOf(name))
}

// FirewallChainName returns the KUBE-FW-<hash> chain (loadBalancerSourceRanges).
func FirewallChainName(name proxy.ServicePortName) string {
	return firewallChainPrefix + portProtoHash(name.String(), protocolOf(name))
}

// EndpointChainName returns the KUBE-SEP-<hash> chain of one endpoint ("ip:port") of a
// Service port: the hash also covers the endpoint string.
func EndpointChainName(name proxy.ServicePortName, endpoint string) string {
	hash := sha256.Sum256([]byte(name.String() + protocolOf(name) + endpoint))
	return endpointChainPrefix + base32.StdEncoding.EncodeToString(hash[:])[:16]
}

func protocolOf(name proxy.ServicePortName) string {
	return strings.ToLower(string(name.Protocol))
}

// isServiceChainName reports whether chain is one of the per-Service chains a sync may
// create and delete.
func isServiceChainName(chain string) bool {
	for _, p := range []string{clusterPolicyChainPrefix, localPolicyChainPrefix, endpointChainPrefix, firewallChainPrefix, externalChainPrefix} {
		if strings.HasPrefix(chain, p) {
			return true
		}
	}
	return false
}

// computeProbability is upstream's: 1/n with ten decimals.
func computeProbability(n int) string {
	return fmt.Sprintf("%0.10f", 1.0/float64(n))
}
