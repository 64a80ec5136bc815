// Package grade runs exercise checks against a cluster (a svclab lab, or any cluster in a
// kubeconfig, where checks that need node access are skipped) and writes the results as
// text, JSON or JUnit XML.
package grade
