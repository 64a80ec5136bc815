// Package endpointslicemirroring mirrors user-written Endpoints of selector-less Services into EndpointSlices, like kube-controller-manager's endpointslicemirroring controller, so proxies only need to watch EndpointSlices.
package endpointslicemirroring
