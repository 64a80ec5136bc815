package pki

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Bundle is everything the API server needs for TLS, client-certificate authentication and
// service-account tokens, loaded from (and kept in) Dir.
type Bundle struct {
	// CA is the cluster certificate authority; CAKey signs every certificate in the bundle.
	CA    *x509.Certificate
	CAKey crypto.Signer
	// CAPEM is ca.crt as written on disk: the client CA bundle and the kubeconfig's
	// certificate-authority-data.
	CAPEM []byte
	// ServingCert is the API server's TLS certificate (with Leaf set); ServingCertPEM and
	// ServingKeyPEM are the same pair as written to apiserver.crt and apiserver.key.
	ServingCert                   tls.Certificate
	ServingCertPEM, ServingKeyPEM []byte
	// AdminCertPEM and AdminKeyPEM are the kubernetes-admin client certificate and key.
	AdminCertPEM, AdminKeyPEM []byte
	// SAKey signs service-account tokens; SAPublicKeyPEM is sa.pub.
	SAKey          crypto.Signer
	SAPublicKeyPEM []byte
	// Dir is the directory the bundle lives in.
	Dir string
}

// Ensure loads the bundle from dir, creating whatever is missing, like `kubeadm init phase certs`:
//
//   - ca.crt/ca.key: created on first start and kept afterwards. If only one of the two exists,
//     Ensure fails rather than silently replacing the CA every kubeconfig trusts.
//   - apiserver.crt/apiserver.key: signed by the CA for DefaultHosts plus hosts (IP addresses and
//     DNS names; pass the `kubernetes` Service IP and any node-facing address here). Re-issued when
//     the requested SANs change, when it no longer chains to the CA, or within RenewBefore of expiry.
//   - admin.crt/admin.key: the kubernetes-admin client certificate (group kubeadm:cluster-admins),
//     re-issued under the same conditions.
//   - sa.key/sa.pub: the service-account token signing key pair, created once and kept.
//
// The directory is created with mode 0700, keys are written with mode 0600 and certificates 0644,
// each file atomically (temporary file, fsync, rename).
func Ensure(dir string, hosts []string) (*Bundle, error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("create pki directory %s: %w", dir, err)
	}
	now := time.Now()
	b := &Bundle{Dir: dir}
	if err := b.ensureCA(now); err != nil {
		return nil, err
	}
	ips, dns := sans(hosts)
	if err := b.ensureServing(now, ips, dns); err != nil {
		return nil, err
	}
	if err := b.ensureAdmin(now); err != nil {
		return nil, err
	}
	if err := b.ensureSAKey(); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *Bundle) path(name string) string { return filepath.Join(b.Dir, name) }

func (b *Bundle) ensureCA(now time.Time) error {
	certPEM, err := readOptional(b.path(CACertFile))
	if err != nil {
		return err
	}
	keyPEM, err := readOptional(b.path(CAKeyFile))
	if err != nil {
		return err
	}
	switch {
	case certPEM == nil && keyPEM == nil:
		key, err := newKey()
		if err != nil {
			return err
		}
		cert, pemBytes, err := newCA(key, now)
		if err != nil {
			return err
		}
		keyBytes, err := encodeKeyPEM(key)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(b.path(CAKeyFile), keyBytes, keyMode); err != nil {
			return err
		}
		if err := writeFileAtomic(b.path(CACertFile), pemBytes, certMode); err != nil {
			return err
		}
		b.CA, b.CAKey, b.CAPEM = cert, key, pemBytes
		return nil
	case certPEM == nil || keyPEM == nil:
		present, missing := CACertFile, CAKeyFile
		if certPEM == nil {
			present, missing = CAKeyFile, CACertFile
		}
		return fmt.Errorf("%s exists but %s is missing in %s: restore it, or remove %s to create a new CA (existing kubeconfigs will stop working)",
			present, missing, b.Dir, present)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return fmt.Errorf("parse %s: %w", b.path(CACertFile), err)
	}
	key, err := parseSignerPEM(keyPEM)
	if err != nil {
		return fmt.Errorf("parse %s: %w", b.path(CAKeyFile), err)
	}
	if !cert.IsCA {
		return fmt.Errorf("%s is not a CA certificate", b.path(CACertFile))
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return fmt.Errorf("%s does not match %s", b.path(CAKeyFile), b.path(CACertFile))
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("CA certificate %s expired on %s: remove ca.crt and ca.key to create a new CA",
			b.path(CACertFile), cert.NotAfter.Format(time.RFC3339))
	}
	if err := tightenKeyMode(b.path(CAKeyFile)); err != nil {
		return err
	}
	b.CA, b.CAKey, b.CAPEM = cert, key, certPEM
	return nil
}

func (b *Bundle) ensureServing(now time.Time, ips []net.IP, dns []string) error {
	certPEM, keyPEM, err := b.ensureLeaf(now, ServingCertFile, ServingKeyFile, x509.ExtKeyUsageServerAuth,
		func(c *x509.Certificate) bool { return sameSANs(c, ips, dns) },
		leafSpec{subject: pkix.Name{CommonName: ServingCommonName}, usage: x509.ExtKeyUsageServerAuth, ips: ips, dns: dns})
	if err != nil {
		return err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("load serving certificate: %w", err)
	}
	b.ServingCert, b.ServingCertPEM, b.ServingKeyPEM = pair, certPEM, keyPEM
	return nil
}

func (b *Bundle) ensureAdmin(now time.Time) error {
	subject := pkix.Name{CommonName: AdminCommonName, Organization: []string{AdminGroup}}
	certPEM, keyPEM, err := b.ensureLeaf(now, AdminCertFile, AdminKeyFile, x509.ExtKeyUsageClientAuth,
		func(c *x509.Certificate) bool {
			return c.Subject.CommonName == subject.CommonName && slices.Equal(c.Subject.Organization, subject.Organization)
		},
		leafSpec{subject: subject, usage: x509.ExtKeyUsageClientAuth})
	if err != nil {
		return err
	}
	b.AdminCertPEM, b.AdminKeyPEM = certPEM, keyPEM
	return nil
}

// ensureLeaf returns the certificate and key in certFile/keyFile when they form a pair that
// chains to the CA, is not near expiry and satisfies wanted; otherwise it issues and writes a new pair.
func (b *Bundle) ensureLeaf(now time.Time, certFile, keyFile string, usage x509.ExtKeyUsage,
	wanted func(*x509.Certificate) bool, spec leafSpec) (certPEM, keyPEM []byte, err error) {
	certPEM, err = readOptional(b.path(certFile))
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = readOptional(b.path(keyFile))
	if err != nil {
		return nil, nil, err
	}
	if certPEM != nil && keyPEM != nil && b.leafReusable(certPEM, keyPEM, usage, wanted, now) {
		if err := tightenKeyMode(b.path(keyFile)); err != nil {
			return nil, nil, err
		}
		return certPEM, keyPEM, nil
	}
	certPEM, keyPEM, err = signLeaf(b.CA, b.CAKey, spec, LeafValidity, now)
	if err != nil {
		return nil, nil, err
	}
	// Key first: if we crash in between, the next start sees a mismatched pair and re-issues.
	if err := writeFileAtomic(b.path(keyFile), keyPEM, keyMode); err != nil {
		return nil, nil, err
	}
	if err := writeFileAtomic(b.path(certFile), certPEM, certMode); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

func (b *Bundle) leafReusable(certPEM, keyPEM []byte, usage x509.ExtKeyUsage, wanted func(*x509.Certificate) bool, now time.Time) bool {
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return false
	}
	key, err := parseSignerPEM(keyPEM)
	if err != nil {
		return false
	}
	return publicKeysEqual(cert.PublicKey, key.Public()) && leafStillGood(cert, b.CA, usage, now) && wanted(cert)
}

func (b *Bundle) ensureSAKey() error {
	keyPEM, err := readOptional(b.path(SAKeyFile))
	if err != nil {
		return err
	}
	var key crypto.Signer
	if keyPEM == nil {
		if key, err = newKey(); err != nil {
			return err
		}
		if keyPEM, err = encodeKeyPEM(key); err != nil {
			return err
		}
		if err := writeFileAtomic(b.path(SAKeyFile), keyPEM, keyMode); err != nil {
			return err
		}
	} else {
		if key, err = parseSignerPEM(keyPEM); err != nil {
			return fmt.Errorf("parse %s: %w", b.path(SAKeyFile), err)
		}
		if err := tightenKeyMode(b.path(SAKeyFile)); err != nil {
			return err
		}
	}
	pubPEM, err := encodePublicKeyPEM(key.Public())
	if err != nil {
		return err
	}
	current, err := readOptional(b.path(SAPubFile))
	if err != nil {
		return err
	}
	if string(current) != string(pubPEM) {
		if err := writeFileAtomic(b.path(SAPubFile), pubPEM, certMode); err != nil {
			return err
		}
	}
	b.SAKey, b.SAPublicKeyPEM = key, pubPEM
	return nil
}

// tightenKeyMode makes an existing private key file readable by its owner only.
func tightenKeyMode(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, keyMode); err != nil {
		return fmt.Errorf("restrict permissions of %s: %w", path, err)
	}
	return nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

var errNoBundle = errors.New("pki: nil bundle")
