// Package runtimetest holds a recording fake runtime.Runtime for unit tests and the
// conformance suite every real runtime (containerd, process) must pass.
package runtimetest
