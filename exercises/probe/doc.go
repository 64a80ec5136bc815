// Package probe sends the grader's test traffic (HTTP, TCP, UDP, DNS) from wherever it
// runs — the grader's process, a node's namespace or a pod — and reports what came back,
// as data the grader judges; `svclab probe` runs it in nodes and pods.
package probe
