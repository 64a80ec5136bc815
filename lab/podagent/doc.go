// Package podagent is the program inside svclab's built-in image: an HTTP/TCP/UDP echo server
// that reports which pod, node and version answered, with switchable readiness and liveness.
package podagent
