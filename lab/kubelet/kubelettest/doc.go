// Package kubelettest holds recording fakes of kubelet-lite's collaborators: a runtime, a pod
// network and a namespace dialer.
package kubelettest
