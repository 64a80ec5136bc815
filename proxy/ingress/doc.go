// Package ingress is svclab's networking.k8s.io/v1 Ingress controller: a routing table built
// from the Ingresses of its class, a reverse proxy that balances straight over ready
// endpoints, TLS chosen by SNI from Secrets, and Ingress status.
package ingress
