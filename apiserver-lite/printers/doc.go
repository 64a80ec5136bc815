// Package printers turns k8s.io/api v1 objects into the metav1.Table rows and columns that upstream
// kube-apiserver serves, so `kubectl get` prints exactly what it prints against a real cluster.
package printers
