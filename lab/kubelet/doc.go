// Package kubelet is kubelet-lite: the node agent that registers a simulated node, runs the pods
// bound to it through a runtime.Runtime, probes them, reports their status and serves their logs.
package kubelet
