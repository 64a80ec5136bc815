// Package deployment runs the Deployment controller: it rolls pod templates out through hashed ReplicaSets (RollingUpdate or Recreate) and reports rollout status and conditions, as upstream kube-controller-manager does.
package deployment
