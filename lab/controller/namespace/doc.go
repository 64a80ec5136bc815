// Package namespace empties Namespaces that are being deleted and then removes their `kubernetes` finalizer, like kube-controller-manager's namespace controller.
package namespace
