// Package scheduler is the lab's kube-scheduler: it binds unassigned pods to Ready nodes with
// upstream's essential filters, a spreading score, and upstream's events and messages.
package scheduler
