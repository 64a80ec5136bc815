// Package garbagecollector deletes objects whose owners are gone and carries out foreground and orphan deletion, like kube-controller-manager's garbage collector, watching every served resource through metadata-only informers.
package garbagecollector
