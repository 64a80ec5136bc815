// Package replicaset runs the ReplicaSet controller: it keeps the number of pods owned by each ReplicaSet equal to spec.replicas, as upstream kube-controller-manager does.
package replicaset
