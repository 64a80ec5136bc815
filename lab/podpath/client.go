package podpath

import (
	"errors"
	"fmt"
	"net"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ClientConfig is the API client configuration of a pod's program (kube-proxy, DNS,
// ingress): the kubeconfig at path — with the paths inside it translated like the file
// itself — or, when path is empty, the in-cluster service account.
func ClientConfig(path string) (*rest.Config, error) {
	if path == "" {
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return nil, errors.New("no --kubeconfig and not running in a pod (KUBERNETES_SERVICE_HOST is unset)")
		}
		const dir = "/var/run/secrets/kubernetes.io/serviceaccount/"
		return &rest.Config{
			Host:            "https://" + net.JoinHostPort(host, port),
			BearerTokenFile: Host(dir + "token"),
			TLSClientConfig: rest.TLSClientConfig{CAFile: Host(dir + "ca.crt")},
		}, nil
	}
	raw, err := clientcmd.LoadFromFile(Host(path))
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", path, err)
	}
	translate := func(p *string) {
		if *p != "" {
			*p = Host(*p)
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
