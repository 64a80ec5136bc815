// Package web serves the lab's browser UI: guided exercises with a Check button per step,
// the live topology, each node's proxy rules with the packet tracer, and a terminal in a
// node, behind an access token.
package web
