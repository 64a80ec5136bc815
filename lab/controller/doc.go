// Package controller runs the lab's node-less controllers (kube-controller-manager's job)
// against the API server, each as an ordinary client-go client.
package controller
