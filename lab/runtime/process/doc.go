// Package process is the runtime that runs a pod's program as a plain child process inside
// the pod's network namespace, without a root filesystem of its own.
package process
