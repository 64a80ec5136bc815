// Package dnstest holds a recording dns.ResponseWriter, a fake forwarder and object
// builders for the cluster DNS tests, on one address plan.
//
// Address plan (the lab's defaults):
//
//	service CIDR   10.96.0.0/12; kube-dns 10.96.0.10, test Services 10.96.0.20 ...
//	pods           10.244.0.0/16 (10.244.1.x on node1, 10.244.2.x on node2)
//	clients        10.244.1.100 (UDP unless a test says TCP)
//	outside names  *.example (answered by the fake forwarder with 203.0.113.0/24,
//	               addresses that never receive traffic)
package dnstest
