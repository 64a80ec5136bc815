package pki

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustEnsure(t *testing.T, dir string, hosts []string) *Bundle {
	t.Helper()
	b, err := Ensure(dir, hosts)
	if err != nil {
		t.Fatalf("Ensure(%s, %v): %v", dir, hosts, err)
	}
	return b
}

func mustCert(t *testing.T, pemBytes []byte) *x509.Certificate {
	t.Helper()
	c, err := parseCertPEM(pemBytes)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	return c
}

func TestEnsureFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	mustEnsure(t, dir, nil)

	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode = %o, want 700", got)
	}
	for _, tc := range []struct {
		file string
		mode os.FileMode
	}{
		{CACertFile, 0o644},
		{CAKeyFile, 0o600},
		{ServingCertFile, 0o644},
		{ServingKeyFile, 0o600},
		{AdminCertFile, 0o644},
		{AdminKeyFile, 0o600},
		{SAKeyFile, 0o600},
		{SAPubFile, 0o644},
	} {
		st, err := os.Stat(filepath.Join(dir, tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if got := st.Mode().Perm(); got != tc.mode {
			t.Errorf("%s mode = %o, want %o", tc.file, got, tc.mode)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestEnsureCertificateContents(t *testing.T) {
	b := mustEnsure(t, t.TempDir(), []string{"10.96.0.1", "172.30.0.1", "svclab.local"})

	if !b.CA.IsCA || b.CA.Subject.CommonName != CACommonName {
		t.Errorf("CA: IsCA=%v CN=%q", b.CA.IsCA, b.CA.Subject.CommonName)
	}
	serving := b.ServingCert.Leaf
	if serving == nil {
		t.Fatal("ServingCert.Leaf is nil")
	}
	wantDNS := []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost", "svclab.local"}
	if !slices.Equal(serving.DNSNames, wantDNS) {
		t.Errorf("serving DNS names = %v, want %v", serving.DNSNames, wantDNS)
	}
	var ips []string
	for _, ip := range serving.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"10.96.0.1", "127.0.0.1", "172.30.0.1"}; !slices.Equal(ips, want) {
		t.Errorf("serving IPs = %v, want %v", ips, want)
	}
	if _, err := serving.Verify(x509.VerifyOptions{Roots: b.CertPool(), DNSName: "kubernetes.default.svc"}); err != nil {
		t.Errorf("serving certificate does not verify for kubernetes.default.svc: %v", err)
	}
	if err := serving.VerifyHostname("10.96.0.1"); err != nil {
		t.Errorf("serving certificate: %v", err)
	}

	admin := mustCert(t, b.AdminCertPEM)
	if admin.Subject.CommonName != "kubernetes-admin" || !slices.Equal(admin.Subject.Organization, []string{"kubeadm:cluster-admins"}) {
		t.Errorf("admin subject = %v", admin.Subject)
	}
	if _, err := admin.Verify(x509.VerifyOptions{Roots: b.CertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin certificate is not a client certificate of the CA: %v", err)
	}
	if b.SAKey == nil || !bytes.Contains(b.SAPublicKeyPEM, []byte("PUBLIC KEY")) {
		t.Errorf("service-account key missing: %v %q", b.SAKey, b.SAPublicKeyPEM)
	}
}

func TestEnsureReuse(t *testing.T) {
	base := []string{"10.96.0.1", "svclab.local"}
	for _, tc := range []struct {
		name          string
		hosts         []string
		reuseServing  bool
		wantServingIP string // must be present after the second call
	}{
		{name: "same hosts", hosts: base, reuseServing: true},
		{name: "same hosts reordered, duplicated, upper-case", hosts: []string{"SVCLAB.local", "10.96.0.1", "10.96.0.1", "", "localhost"}, reuseServing: true},
		{name: "IP added", hosts: append(slices.Clone(base), "172.30.0.1"), wantServingIP: "172.30.0.1"},
		{name: "DNS name removed", hosts: []string{"10.96.0.1"}},
		{name: "IP changed", hosts: []string{"10.100.0.1", "svclab.local"}, wantServingIP: "10.100.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			first := mustEnsure(t, dir, base)
			caKey1, _ := os.ReadFile(filepath.Join(dir, CAKeyFile))
			saKey1, _ := os.ReadFile(filepath.Join(dir, SAKeyFile))

			second := mustEnsure(t, dir, tc.hosts)
			caKey2, _ := os.ReadFile(filepath.Join(dir, CAKeyFile))
			saKey2, _ := os.ReadFile(filepath.Join(dir, SAKeyFile))

			if !first.CA.Equal(second.CA) || !bytes.Equal(caKey1, caKey2) {
				t.Error("CA was replaced; it must be kept across calls")
			}
			if !bytes.Equal(saKey1, saKey2) {
				t.Error("sa.key was replaced; it must be kept across calls")
			}
			if !bytes.Equal(first.AdminCertPEM, second.AdminCertPEM) {
				t.Error("admin certificate was re-issued without reason")
			}
			reused := bytes.Equal(first.ServingCertPEM, second.ServingCertPEM)
			if reused != tc.reuseServing {
				t.Errorf("serving certificate reused = %v, want %v", reused, tc.reuseServing)
			}
			onDisk, _ := os.ReadFile(filepath.Join(dir, ServingCertFile))
			if !bytes.Equal(onDisk, second.ServingCertPEM) {
				t.Error("apiserver.crt on disk differs from the returned serving certificate")
			}
			if tc.wantServingIP != "" {
				if err := second.ServingCert.Leaf.VerifyHostname(tc.wantServingIP); err != nil {
					t.Errorf("re-issued serving certificate: %v", err)
				}
			}
			if _, err := second.ServingCert.Leaf.Verify(x509.VerifyOptions{Roots: first.CertPool()}); err != nil {
				t.Errorf("serving certificate does not chain to the original CA: %v", err)
			}
		})
	}
}

func TestEnsureReissuesBadLeaves(t *testing.T) {
	for _, tc := range []struct {
		name   string
		file   string
		mangle func(t *testing.T, b *Bundle, dir string)
	}{
		{
			name: "serving certificate near expiry",
			file: ServingCertFile,
			mangle: func(t *testing.T, b *Bundle, dir string) {
				ips, dns := sans(nil)
				certPEM, keyPEM, err := signLeaf(b.CA, b.CAKey, leafSpec{subject: pkix.Name{CommonName: ServingCommonName}, usage: x509.ExtKeyUsageServerAuth, ips: ips, dns: dns}, 24*time.Hour, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				writeTestFile(t, filepath.Join(dir, ServingKeyFile), keyPEM)
				writeTestFile(t, filepath.Join(dir, ServingCertFile), certPEM)
			},
		},
		{
			name: "serving key does not match certificate",
			file: ServingCertFile,
			mangle: func(t *testing.T, b *Bundle, dir string) {
				writeTestFile(t, filepath.Join(dir, ServingKeyFile), b.AdminKeyPEM)
			},
		},
		{
			name: "admin certificate from another CA",
			file: AdminCertFile,
			mangle: func(t *testing.T, b *Bundle, dir string) {
				other := mustEnsure(t, t.TempDir(), nil)
				writeTestFile(t, filepath.Join(dir, AdminKeyFile), other.AdminKeyPEM)
				writeTestFile(t, filepath.Join(dir, AdminCertFile), other.AdminCertPEM)
			},
		},
		{
			name: "admin certificate with the wrong subject",
			file: AdminCertFile,
			mangle: func(t *testing.T, b *Bundle, dir string) {
				certPEM, keyPEM, err := b.IssueClientCert("kubernetes-admin", []string{"system:masters"}, 0)
				if err != nil {
					t.Fatal(err)
				}
				writeTestFile(t, filepath.Join(dir, AdminKeyFile), keyPEM)
				writeTestFile(t, filepath.Join(dir, AdminCertFile), certPEM)
			},
		},
		{
			name: "serving certificate garbage",
			file: ServingCertFile,
			mangle: func(t *testing.T, b *Bundle, dir string) {
				writeTestFile(t, filepath.Join(dir, ServingCertFile), []byte("not a certificate"))
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b := mustEnsure(t, dir, nil)
			tc.mangle(t, b, dir)
			mangled, _ := os.ReadFile(filepath.Join(dir, tc.file))

			again := mustEnsure(t, dir, nil)
			fixed, _ := os.ReadFile(filepath.Join(dir, tc.file))
			if bytes.Equal(mangled, fixed) {
				t.Fatalf("%s was not re-issued", tc.file)
			}
			cert := mustCert(t, fixed)
			if !leafStillGood(cert, again.CA, cert.ExtKeyUsage[0], time.Now()) {
				t.Errorf("re-issued %s is not valid for the CA", tc.file)
			}
			if tc.file == AdminCertFile && !bytes.Equal(fixed, again.AdminCertPEM) {
				t.Error("returned admin certificate differs from admin.crt")
			}
		})
	}
}

func TestEnsureCAErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mangle  func(dir string) error
		wantErr string
	}{
		{"ca.key missing", func(dir string) error { return os.Remove(filepath.Join(dir, CAKeyFile)) }, "ca.crt exists but ca.key is missing"},
		{"ca.crt missing", func(dir string) error { return os.Remove(filepath.Join(dir, CACertFile)) }, "ca.key exists but ca.crt is missing"},
		{"ca.key replaced", func(dir string) error {
			other := filepath.Join(dir, "other")
			if _, err := Ensure(other, nil); err != nil {
				return err
			}
			data, err := os.ReadFile(filepath.Join(other, CAKeyFile))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, CAKeyFile), data, 0o600)
		}, "does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mustEnsure(t, dir, nil)
			if err := tc.mangle(dir); err != nil {
				t.Fatal(err)
			}
			_, err := Ensure(dir, nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Ensure error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestEnsureTightensKeyModes(t *testing.T) {
	dir := t.TempDir()
	mustEnsure(t, dir, nil)
	for _, f := range []string{CAKeyFile, SAKeyFile, ServingKeyFile} {
		if err := os.Chmod(filepath.Join(dir, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustEnsure(t, dir, nil)
	for _, f := range []string{CAKeyFile, SAKeyFile, ServingKeyFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %o after Ensure, want 600", f, st.Mode().Perm())
		}
	}
}

func TestSANs(t *testing.T) {
	ips, dns := sans([]string{" 10.96.0.1 ", "::1", "Example.COM", "10.96.0.1", "::ffff:10.0.0.1"})
	var gotIPs []string
	for _, ip := range ips {
		gotIPs = append(gotIPs, ip.String())
	}
	if want := []string{"10.0.0.1", "10.96.0.1", "127.0.0.1", "::1"}; !slices.Equal(gotIPs, want) {
		t.Errorf("IPs = %v, want %v", gotIPs, want)
	}
	if !slices.Contains(dns, "example.com") || slices.Contains(dns, "Example.COM") {
		t.Errorf("DNS names = %v, want example.com lower-cased", dns)
	}
	if len(ips[0]) != net.IPv4len {
		t.Errorf("IPv4 address stored in %d bytes, want 4", len(ips[0]))
	}
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
