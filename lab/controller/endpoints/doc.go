// Package endpoints keeps one core/v1 Endpoints object per selector-based Service in step with the Pods the selector matches, like kube-controller-manager's endpoint controller.
package endpoints
