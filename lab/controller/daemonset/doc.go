// Package daemonset runs the DaemonSet controller: one pod per eligible node, pinned with node affinity, with ControllerRevision history and RollingUpdate/OnDelete updates, as upstream kube-controller-manager does.
package daemonset
