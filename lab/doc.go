// Package lab runs a svclab lab: `svclab up` builds the network, starts the API server,
// controllers, scheduler and one kubelet-lite per node; `svclab down` removes everything the
// lab made, also after a crash.
package lab
