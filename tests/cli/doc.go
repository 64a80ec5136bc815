// Package cli drives the real svclab binary as a learner does: `svclab up --detach`,
// status, kubeconfig, kubectl, node exec, and `svclab down` after kill -9 at any moment.
package cli
