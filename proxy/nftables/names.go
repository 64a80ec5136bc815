package nftables

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net"
	"strings"

	"sigs.k8s.io/knftables"

	"github.com/svclab/svclab/proxy"
)

// TableName is the nftables table (in family ip) that holds every kube-proxy object.
const TableName = "kube-proxy"

// Names of upstream kube-proxy's fixed chains, sets and maps.
const (
	filterPreroutingChain     = "filter-prerouting"
	filterInputChain          = "filter-input"
	filterForwardChain        = "filter-forward"
	filterOutputChain         = "filter-output"
	filterOutputPostDNATChain = "filter-output-post-dnat"
	natPreroutingChain        = "nat-prerouting"
	natOutputChain            = "nat-output"
	natPostroutingChain       = "nat-postrouting"

	servicesChain       = "services"
	serviceIPsMap       = "service-ips"
	serviceNodePortsMap = "service-nodeports"
	nodePortIPsSet      = "nodeport-ips"
	clusterIPsSet       = "cluster-ips"

	serviceEndpointsCheckChain  = "service-endpoints-check"
	nodePortEndpointsCheckChain = "nodeport-endpoints-check"
	noEndpointServicesMap       = "no-endpoint-services"
	noEndpointNodePortsMap      = "no-endpoint-nodeports"
	rejectChain                 = "reject-chain"
	clusterIPsCheckChain        = "cluster-ips-check"

	firewallIPsMap     = "firewall-ips"
	firewallCheckChain = "firewall-check"

	markMasqChain     = "mark-for-masquerade"
	masqueradingChain = "masquerading"
)

// Prefixes of the per-Service and per-endpoint objects (upstream's).
const (
	servicePortPolicyClusterChainNamePrefix = "service-"
	servicePortPolicyLocalChainNamePrefix   = "local-"
	serviceExternalChainNamePrefix          = "external-"
	servicePortEndpointChainNamePrefix      = "endpoint-"
	servicePortEndpointAffinityNamePrefix   = "affinity-"
	servicePortFirewallChainNamePrefix      = "firewall-"

	chainNamePrefixLengthMax = 16
	chainNameBaseLengthMax   = knftables.NameLengthMax - chainNamePrefixLengthMax
)

// hashAndTruncate is upstream's: the first 8 base32 characters of the name's SHA-256, a
// dash, the name, truncated to fit.
func hashAndTruncate(name string) string {
	hash := sha256.Sum256([]byte(name))
	encoded := base32.StdEncoding.EncodeToString(hash[:])
	name = encoded[:8] + "-" + name
	if len(name) > chainNameBaseLengthMax {
		name = name[:chainNameBaseLengthMax-3] + "..."
	}
	return name
}

// servicePortChainNameBase is upstream's "HASH-ns/name/proto/port", e.g.
// "ULMVA6XW-ns1/svc1/tcp/p80".
func servicePortChainNameBase(n proxy.ServicePortName) string {
	return hashAndTruncate(fmt.Sprintf("%s/%s/%s/%s", n.Namespace, n.Name, protocolOf(n.Protocol), n.Port))
}

// servicePortEndpointChainNameBase is upstream's
// "HASH-ns/name/proto/port__ip/port", e.g. "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80".
func servicePortEndpointChainNameBase(n proxy.ServicePortName, endpoint string) string {
	ip, port, _ := net.SplitHostPort(endpoint)
	ip = strings.ReplaceAll(ip, ":", ".")
	return hashAndTruncate(fmt.Sprintf("%s/%s/%s/%s__%s/%s", n.Namespace, n.Name, protocolOf(n.Protocol), n.Port, ip, port))
}

// chainNames are the per-port object names of one ServicePort.
type chainNames struct {
	cluster, local, external, firewall string
}

func serviceChainNames(n proxy.ServicePortName) chainNames {
	base := servicePortChainNameBase(n)
	return chainNames{
		cluster:  servicePortPolicyClusterChainNamePrefix + base,
		local:    servicePortPolicyLocalChainNamePrefix + base,
		external: serviceExternalChainNamePrefix + base,
		firewall: servicePortFirewallChainNamePrefix + base,
	}
}

// endpointChainName and affinitySetName name one endpoint's chain and affinity set.
func endpointChainName(n proxy.ServicePortName, ep proxy.Endpoint) string {
	return servicePortEndpointChainNamePrefix + servicePortEndpointChainNameBase(n, ep.String())
}

func affinitySetName(n proxy.ServicePortName, ep proxy.Endpoint) string {
	return servicePortEndpointAffinityNamePrefix + servicePortEndpointChainNameBase(n, ep.String())
}

// isServiceChainName reports whether chain is a per-Service or per-endpoint chain (they,
// and only they, contain a "/").
func isServiceChainName(chain string) bool { return strings.Contains(chain, "/") }

func isAffinitySetName(set string) bool {
	return strings.HasPrefix(set, servicePortEndpointAffinityNamePrefix)
}

func protocolOf[T ~string](p T) string { return strings.ToLower(string(p)) }
