package dns

import (
	"k8s.io/client-go/rest"

	"github.com/svclab/svclab/lab/podpath"
)

// hostPath translates a pod path for the process runtime (see lab/podpath).
func hostPath(p string) string { return podpath.Host(p) }

// clientConfig is podpath.ClientConfig: the kubeconfig or the in-cluster service account.
func clientConfig(path string) (*rest.Config, error) { return podpath.ClientConfig(path) }
