// Package labbench measures the lab's lifecycle with the real binary: the time from
// `svclab up` to all nodes Ready plus a 3-replica deployment Running, the lab process's
// peak memory, and the time of `svclab down`, for each runtime.
package labbench
