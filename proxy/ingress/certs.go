package ingress

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// DefaultCertificateName is the subject of the self-signed certificate served to names
// without a TLS rule, after ingress-nginx's "Kubernetes Ingress Controller Fake Certificate".
const DefaultCertificateName = "svclab Ingress Controller Fake Certificate"

// Certificates chooses the server certificate by SNI from the TLS Secrets of the current
// table; other names get the self-signed default. Safe for concurrent use; Update swaps the
// whole set, so handshakes never see half an update.
type Certificates struct {
	def *tls.Certificate
	set atomic.Pointer[certSet]

	mu    sync.Mutex
	cache map[types.NamespacedName]parsedSecret // parsed key pairs by Secret, reused while resourceVersion holds
}

// certSet is what Update swaps in: certificates by host pattern (exact or "*.suffix"), and
// the default certificate (the self-signed one unless a TLS entry without hosts replaces it).
type certSet struct {
	byHost map[string]*tls.Certificate
	def    *tls.Certificate
}

type parsedSecret struct {
	version string
	cert    *tls.Certificate
	err     error
}

// NewCertificates generates the default certificate.
func NewCertificates() (*Certificates, error) {
	def, err := selfSigned(DefaultCertificateName, nil)
	if err != nil {
		return nil, fmt.Errorf("generate the default certificate: %w", err)
	}
	c := &Certificates{def: def, cache: map[types.NamespacedName]parsedSecret{}}
	c.set.Store(&certSet{byHost: map[string]*tls.Certificate{}, def: def})
	return c, nil
}

// Default is the self-signed default certificate (see TLSFallback for its replacement).
func (c *Certificates) Default() *tls.Certificate { return c.def }

// GetCertificate is tls.Config.GetCertificate: the exact host's certificate, then the
// wildcard's (one label), then the default.
func (c *Certificates) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	cs := c.set.Load()
	m := cs.byHost
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if cert := m[name]; cert != nil {
		return cert, nil
	}
	if _, suffix, ok := cutLabel(name); ok {
		if cert := m["*."+suffix]; cert != nil {
			return cert, nil
		}
	}
	return cs.def, nil
}

// TLSConfig is the HTTPS listener's configuration: certificates by SNI, HTTP/2 and HTTP/1.1.
func (c *Certificates) TLSConfig() *tls.Config {
	return &tls.Config{GetCertificate: c.GetCertificate, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12}
}

// Update loads the certificates of the table's TLS hosts through secret (a lister lookup)
// and swaps them in. It returns the hosts now served with their own certificate (for the
// HTTP→HTTPS redirect) and a BadSecret Problem per host whose Secret is missing or invalid;
// those hosts get the default certificate and the others keep theirs. The table's
// TLSFallbacks then serve the hosts they cover and may replace the default certificate.
func (c *Certificates) Update(t *Table, secret func(types.NamespacedName) (*corev1.Secret, bool)) (map[string]bool, []Problem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set, hosts := map[string]*tls.Certificate{}, map[string]bool{}
	var problems []Problem
	used := map[types.NamespacedName]bool{}
	for host, ref := range t.TLS() {
		used[ref.Secret] = true
		cert, err := c.load(ref.Secret, secret)
		if err != nil {
			problems = append(problems, Problem{Ingress: ref.Ingress, Reason: "BadSecret",
				Message: fmt.Sprintf("tls host %s served with the default certificate: %v", host, err)})
			continue
		}
		set[host], hosts[host] = cert, true
	}
	def := c.def
	for _, fb := range t.TLSFallbacks() {
		used[fb.Secret] = true
		cert, err := c.load(fb.Secret, secret)
		if err != nil {
			if fb.NoHosts { // an entry with hosts reported its error above
				problems = append(problems, Problem{Ingress: fb.Ingress, Reason: "BadSecret",
					Message: fmt.Sprintf("tls entry without hosts (Secret %s) not used: %v", fb.Secret.Name, err)})
			}
			continue
		}
		served := false
		for _, h := range fb.Hosts {
			if set[h] == nil && covers(cert, h) {
				set[h], hosts[h], served = cert, true, true
			}
		}
		if fb.Default {
			if def == c.def {
				def, served = cert, true
			} else if def != cert {
				problems = append(problems, Problem{Ingress: fb.Ingress, Reason: "Conflict",
					Message: fmt.Sprintf("tls entry without hosts (Secret %s) is not the default certificate: an older Ingress sets it", fb.Secret.Name)})
				served = true
			}
		}
		if fb.NoHosts && !served {
			problems = append(problems, Problem{Ingress: fb.Ingress, Reason: "BadSecret",
				Message: fmt.Sprintf("tls entry without hosts (Secret %s) not used: its certificate covers none of the Ingress's hosts; list them in spec.tls[].hosts", fb.Secret.Name)})
		}
	}
	for k := range c.cache {
		if !used[k] {
			delete(c.cache, k)
		}
	}
	c.set.Store(&certSet{byHost: set, def: def})
	return hosts, problems
}

// covers reports whether cert's names (SANs) cover the host pattern h; a wildcard rule host
// "*.suffix" is covered by a certificate valid for any one-label name under suffix.
func covers(cert *tls.Certificate, h string) bool {
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return false
		}
	}
	if suffix, ok := strings.CutPrefix(h, "*."); ok {
		h = "svclab-wildcard-probe." + suffix
	}
	return leaf.VerifyHostname(h) == nil
}

func (c *Certificates) load(name types.NamespacedName, lookup func(types.NamespacedName) (*corev1.Secret, bool)) (*tls.Certificate, error) {
	s, ok := lookup(name)
	if !ok {
		delete(c.cache, name)
		return nil, fmt.Errorf("secret %s not found", name)
	}
	if p, ok := c.cache[name]; ok && p.version == s.ResourceVersion && s.ResourceVersion != "" {
		return p.cert, p.err
	}
	cert, err := parseSecret(s)
	c.cache[name] = parsedSecret{version: s.ResourceVersion, cert: cert, err: err}
	return cert, err
}

// parseSecret reads a kubernetes.io/tls Secret's tls.crt and tls.key.
func parseSecret(s *corev1.Secret) (*tls.Certificate, error) {
	if s.Type != corev1.SecretTypeTLS {
		return nil, fmt.Errorf("secret %s/%s has type %q: create it with `kubectl create secret tls`", s.Namespace, s.Name, s.Type)
	}
	cert, err := tls.X509KeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: tls.crt and tls.key: %w", s.Namespace, s.Name, err)
	}
	return &cert, nil
}

// selfSigned makes an ECDSA P-256 certificate for cn and dnsNames, valid for a year.
func selfSigned(cn string, dnsNames []string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"svclab"}},
		DNSNames:     dnsNames,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
