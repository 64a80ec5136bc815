// Package networktest provides a recording fake of network.Kernel for unit tests without root.
package networktest
