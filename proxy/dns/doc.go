// Package dns is svclab's cluster DNS: a server on github.com/miekg/dns that answers the
// cluster domain from Services and EndpointSlices as CoreDNS's kubernetes plugin does, and
// forwards every other name to the host's resolvers.
package dns
