package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"
)

// Validity periods follow kubeadm: ten years for the CA, one year for leaf certificates. A leaf
// certificate with less than RenewBefore left is re-issued by Ensure.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	LeafValidity = 365 * 24 * time.Hour
	RenewBefore  = 30 * 24 * time.Hour
	// clockSkew backdates NotBefore so a client whose clock is slightly behind accepts a fresh certificate.
	clockSkew = 5 * time.Minute
)

// Subjects of the generated certificates. The admin identity matches kubeadm ≥ 1.29 (and so kind):
// CN kubernetes-admin in group kubeadm:cluster-admins, which kubeadm binds to the cluster-admin
// ClusterRole; the legacy all-powerful group system:masters is kept for kubeadm's super-admin.conf.
const (
	CACommonName      = "kubernetes"
	ServingCommonName = "kube-apiserver"
	AdminCommonName   = "kubernetes-admin"
	AdminGroup        = "kubeadm:cluster-admins"
)

// DefaultHosts are always in the serving certificate: loopback and the names the in-cluster
// `kubernetes` Service is reached by.
var DefaultHosts = []string{
	"127.0.0.1",
	"localhost",
	"kubernetes",
	"kubernetes.default",
	"kubernetes.default.svc",
	"kubernetes.default.svc.cluster.local",
}

// newKey generates an ECDSA P-256 key (kubeadm's ECDSA-P256 encryption algorithm): fast to create and
// accepted by every TLS client and by the service-account token machinery (ES256).
func newKey() (crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ECDSA P-256 key: %w", err)
	}
	return key, nil
}

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return serial.Add(serial, big.NewInt(1)), nil // never zero
}

// subjectKeyID is the RFC 5280 method 1 key identifier (SHA-1 of the public key bits).
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	sum := sha1.Sum(der)
	return sum[:], nil
}

// newCA creates a self-signed CA certificate and returns it with its PEM encoding.
func newCA(key crypto.Signer, now time.Time) (*x509.Certificate, []byte, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	skid, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: CACommonName},
		NotBefore:             now.Add(-clockSkew).UTC(),
		NotAfter:              now.Add(CAValidity).UTC(),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          skid,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	return cert, encodeCertPEM(der), nil
}

// leafSpec describes a certificate signed by the CA.
type leafSpec struct {
	subject pkix.Name
	usage   x509.ExtKeyUsage
	ips     []net.IP
	dns     []string
}

// signLeaf creates a new key and a certificate for it signed by the CA; it returns both as PEM.
func signLeaf(ca *x509.Certificate, caKey crypto.Signer, spec leafSpec, validity time.Duration, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               spec.subject,
		NotBefore:             now.Add(-clockSkew).UTC(),
		NotAfter:              notAfter.UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{spec.usage},
		BasicConstraintsValid: true,
		AuthorityKeyId:        ca.SubjectKeyId,
		IPAddresses:           spec.ips,
		DNSNames:              spec.dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("sign certificate for %q: %w", spec.subject.CommonName, err)
	}
	keyPEM, err = encodeKeyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return encodeCertPEM(der), keyPEM, nil
}

// sans splits hosts (plus DefaultHosts) into sorted, de-duplicated IP addresses and DNS names.
// Empty entries are ignored; DNS names are lower-cased.
func sans(hosts []string) (ips []net.IP, dns []string) {
	ipSet := map[string]net.IP{}
	dnsSet := map[string]bool{}
	for _, h := range slices.Concat(DefaultHosts, hosts) {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			ipSet[ip.String()] = ip
			continue
		}
		dnsSet[strings.ToLower(h)] = true
	}
	for _, k := range sortedKeys(ipSet) {
		ips = append(ips, ipSet[k])
	}
	return ips, sortedKeys(dnsSet)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sameSANs reports whether cert carries exactly the given IP addresses and DNS names.
func sameSANs(cert *x509.Certificate, ips []net.IP, dns []string) bool {
	have := map[string]bool{}
	for _, ip := range cert.IPAddresses {
		have["ip:"+ip.String()] = true
	}
	for _, d := range cert.DNSNames {
		have["dns:"+strings.ToLower(d)] = true
	}
	want := map[string]bool{}
	for _, ip := range ips {
		want["ip:"+ip.String()] = true
	}
	for _, d := range dns {
		want["dns:"+d] = true
	}
	if len(have) != len(want) {
		return false
	}
	for k := range want {
		if !have[k] {
			return false
		}
	}
	return true
}

// leafStillGood reports whether a leaf certificate chains to ca and is not close to expiry.
func leafStillGood(cert *x509.Certificate, ca *x509.Certificate, usage x509.ExtKeyUsage, now time.Time) bool {
	if now.Add(RenewBefore).After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return false
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       pool,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{usage},
	})
	return err == nil
}
