// Package network builds the lab's network: the host bridge, one network namespace per node
// with host-gw routes between nodes' pod CIDRs, and routed point-to-point links (a /32 per
// pod, like the CNI ptp plugin) for pods; and it removes all of it by name.
package network
