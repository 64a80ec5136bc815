// Package endpointslice keeps the discovery.k8s.io/v1 EndpointSlices of selector-based Services in step with their Pods, driving upstream's k8s.io/endpointslice reconciler like kube-controller-manager's endpointslice controller.
package endpointslice
