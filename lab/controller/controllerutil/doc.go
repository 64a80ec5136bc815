// Package controllerutil holds the pieces shared by svclab's workload controllers (hashing, expectations, pod control, owner-reference claiming and pod ordering), ported from upstream kubernetes pkg/controller.
package controllerutil
