package pki

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kubeconfig returns a kubeconfig for serverURL with the CA and the admin client certificate
// embedded. The cluster, user and context are all called name, and the context is current;
// pass the full name (kind uses "kind-<cluster>", svclab "svclab-<lab>").
func Kubeconfig(serverURL, name string, b *Bundle) (*clientcmdapi.Config, error) {
	if b == nil {
		return nil, errNoBundle
	}
	if serverURL == "" || name == "" {
		return nil, fmt.Errorf("kubeconfig needs a server URL and a name (got %q, %q)", serverURL, name)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{
		Server:                   serverURL,
		CertificateAuthorityData: b.CAPEM,
	}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{
		ClientCertificateData: b.AdminCertPEM,
		ClientKeyData:         b.AdminKeyPEM,
	}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	return cfg, nil
}

// WriteKubeconfig writes Kubeconfig(serverURL, name, b) to path with mode 0600, atomically,
// creating the parent directory (mode 0700) when needed. An existing file is replaced, not merged.
func WriteKubeconfig(path, serverURL, name string, b *Bundle) error {
	cfg, err := Kubeconfig(serverURL, name, b)
	if err != nil {
		return err
	}
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encode kubeconfig: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return fmt.Errorf("create directory for kubeconfig %s: %w", path, err)
	}
	if err := writeFileAtomic(path, data, keyMode); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}
