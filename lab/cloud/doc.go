// Package cloud is the lab's built-in cloud provider: a LoadBalancer controller that gives
// `type: LoadBalancer` Services an address from a pool and routes it from the host to the nodes.
package cloud
