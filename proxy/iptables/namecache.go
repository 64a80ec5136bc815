package iptables

import "github.com/svclab/svclab/proxy"

// portChains are the chain names of one Service port.
type portChains struct {
	nameString, svc, svl, ext, fw string
}

type sepKey struct {
	name     proxy.ServicePortName
	endpoint string
}

// nameCache keeps computed chain names between syncs: hashing every name again is most of
// a partial sync's cost at 10,000 Services. It is replaced on full syncs, so it does not
// grow with churn.
type nameCache struct {
	ports map[proxy.ServicePortName]*portChains
	seps  map[sepKey]string
}

func newNameCache() *nameCache {
	return &nameCache{ports: map[proxy.ServicePortName]*portChains{}, seps: map[sepKey]string{}}
}

func (c *nameCache) port(name proxy.ServicePortName) *portChains {
	if pc, ok := c.ports[name]; ok {
		return pc
	}
	hash := portProtoHash(name.String(), protocolOf(name))
	pc := &portChains{
		nameString: name.String(),
		svc:        clusterPolicyChainPrefix + hash,
		svl:        localPolicyChainPrefix + hash,
		ext:        externalChainPrefix + hash,
		fw:         firewallChainPrefix + hash,
	}
	c.ports[name] = pc
	return pc
}

func (c *nameCache) endpoint(name proxy.ServicePortName, endpoint string) string {
	k := sepKey{name, endpoint}
	if s, ok := c.seps[k]; ok {
		return s
	}
	s := EndpointChainName(name, endpoint)
	c.seps[k] = s
	return s
}
