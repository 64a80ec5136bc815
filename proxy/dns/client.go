package dns

import (
	"errors"
	"fmt"
	"net"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/svclab/svclab/lab/podpath"
)

// hostPath translates a pod path for the process runtime (see lab/podpath).
func hostPath(p string) string { return podpath.Host(p) }

// clientConfig loads the kubeconfig (paths in it translated for the process runtime), or
// the in-cluster configuration when path is empty; kube-proxy's (proxy/app) approach.
func clientConfig(path string) (*rest.Config, error) {
	if path == "" {
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return nil, errors.New("no --kubeconfig and not running in a pod (KUBERNETES_SERVICE_HOST is unset)")
		}
		const dir = "/var/run/secrets/kubernetes.io/serviceaccount/"
		return &rest.Config{
			Host:            "https://" + net.JoinHostPort(host, port),
			BearerTokenFile: podpath.Host(dir + "token"),
			TLSClientConfig: rest.TLSClientConfig{CAFile: podpath.Host(dir + "ca.crt")},
		}, nil
	}
	raw, err := clientcmd.LoadFromFile(podpath.Host(path))
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", path, err)
	}
	translate := func(p *string) {
		if *p != "" {
			*p = podpath.Host(*p)
		}
	}
	for _, c := range raw.Clusters {
		translate(&c.CertificateAuthority)
	}
	for _, a := range raw.AuthInfos {
		translate(&a.TokenFile)
		translate(&a.ClientCertificate)
		translate(&a.ClientKey)
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*raw, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}
