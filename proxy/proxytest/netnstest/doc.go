// Package netnstest gives the proxy modes' privileged tests throw-away network namespaces,
// veth pairs between them, and small servers and clients that run inside them.
package netnstest
