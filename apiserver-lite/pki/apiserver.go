package pki

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"time"

	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
)

// ClientCA returns the CA as the client-certificate bundle for k8s.io/apiserver: set it as
// SecureServingInfo.ClientCA so the TLS server asks for client certificates, and pass it to
// ClientCertAuthenticator (or x509.NewDynamic(ca.VerifyOptions, ...)) to authenticate them.
func (b *Bundle) ClientCA() (dynamiccertificates.CAContentProvider, error) {
	if b == nil {
		return nil, errNoBundle
	}
	ca, err := dynamiccertificates.NewStaticCAContent("client-ca-bundle", b.CAPEM)
	if err != nil {
		return nil, fmt.Errorf("load client CA bundle: %w", err)
	}
	return ca, nil
}

// ServingContent returns the serving certificate and key for SecureServingInfo.Cert.
func (b *Bundle) ServingContent() (dynamiccertificates.CertKeyContentProvider, error) {
	if b == nil {
		return nil, errNoBundle
	}
	c, err := dynamiccertificates.NewStaticCertKeyContent("serving-cert", b.ServingCertPEM, b.ServingKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("load serving certificate: %w", err)
	}
	return c, nil
}

// ClientCertAuthenticator returns k8s.io/apiserver's x509 request authenticator over the CA: a client
// certificate signed by the CA (for client auth) authenticates as user CN in groups O, as in
// kube-apiserver's --client-ca-file. Certificates from any other CA are rejected with an error.
// Combine it with the token authenticator in a union and wrap with group.NewAuthenticatedGroupAdder.
func (b *Bundle) ClientCertAuthenticator() (*x509request.Authenticator, error) {
	ca, err := b.ClientCA()
	if err != nil {
		return nil, err
	}
	return x509request.NewDynamic(ca.VerifyOptions, x509request.CommonNameUserConversion), nil
}

// CertPool returns a pool holding only the cluster CA.
func (b *Bundle) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(b.CA)
	return pool
}

// ServerTLSConfig returns a TLS configuration for serving with the bundle outside the generic API
// server (tests, a plain net/http server): the serving certificate, and client certificates from
// the CA verified when presented (tls.VerifyClientCertIfGiven, so bearer-token clients still connect).
func (b *Bundle) ServerTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{b.ServingCert},
		ClientCAs:    b.CertPool(),
		ClientAuth:   tls.VerifyClientCertIfGiven,
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// IssueClientCert signs a new client certificate for user cn in groups (the certificate's
// Organization), valid for ttl (LeafValidity when ttl is zero). Use it for component
// identities such as system:node:NAME in group system:nodes. Nothing is written to disk.
func (b *Bundle) IssueClientCert(cn string, groups []string, ttl time.Duration) (certPEM, keyPEM []byte, err error) {
	if b == nil || b.CA == nil || b.CAKey == nil {
		return nil, nil, errNoBundle
	}
	if cn == "" {
		return nil, nil, fmt.Errorf("issue client certificate: empty common name")
	}
	if ttl <= 0 {
		ttl = LeafValidity
	}
	spec := leafSpec{subject: pkix.Name{CommonName: cn, Organization: groups}, usage: x509.ExtKeyUsageClientAuth}
	return signLeaf(b.CA, b.CAKey, spec, ttl, time.Now())
}
