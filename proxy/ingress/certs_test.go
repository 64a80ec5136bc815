package ingress

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// tlsSecret is a kubernetes.io/tls Secret with a fresh self-signed certificate for cn.
func tlsSecret(t *testing.T, name, cn, version string) *corev1.Secret {
	cert, err := selfSigned(cn, []string{cn})
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, ResourceVersion: version},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: key}),
		},
	}
}

type secrets map[string]*corev1.Secret

func (s secrets) get(n types.NamespacedName) (*corev1.Secret, bool) {
	sec, ok := s[n.Name]
	return sec, ok
}

// servedCN dials addr with SNI name and returns the certificate's common name.
func servedCN(t *testing.T, addr, name string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func TestCertificatesBySNI(t *testing.T) {
	tlsIng := ing("tls", 0, map[string][]string{"a.example": {"Prefix / a:80"}})
	tlsIng.Spec.TLS = []networkingv1.IngressTLS{
		{Hosts: []string{"a.example"}, SecretName: "a"},
		{Hosts: []string{"*.wild.example"}, SecretName: "wild"},
		{Hosts: []string{"bad.example"}, SecretName: "bad"},
		{Hosts: []string{"missing.example"}, SecretName: "missing"},
	}
	tab := NewTable([]*networkingv1.Ingress{tlsIng})
	bad := tlsSecret(t, "bad", "bad.example", "1")
	bad.Data[corev1.TLSPrivateKeyKey] = []byte("garbage")
	store := secrets{"a": tlsSecret(t, "a", "a.example", "1"), "wild": tlsSecret(t, "wild", "*.wild.example", "1"), "bad": bad}

	certs, err := NewCertificates()
	if err != nil {
		t.Fatal(err)
	}
	hosts, problems := certs.Update(tab, store.get)
	if len(hosts) != 2 || !hosts["a.example"] || !hosts["*.wild.example"] {
		t.Errorf("hosts %v", hosts)
	}
	var msgs []string
	for _, p := range problems {
		msgs = append(msgs, p.Reason+" "+p.Message)
	}
	got := strings.Join(msgs, "\n")
	if len(problems) != 2 || !strings.Contains(got, "tls host bad.example served with the default certificate: secret default/bad: tls.crt and tls.key:") ||
		!strings.Contains(got, "BadSecret tls host missing.example served with the default certificate: secret default/missing not found") {
		t.Errorf("problems:\n%s", got)
	}

	// A plain http.Server on a TLS listener, as Run serves (httptest would add its own
	// certificate, which Go prefers to GetCertificate when the client sends no SNI).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) })}
	go srv.Serve(tls.NewListener(l, certs.TLSConfig()))
	defer srv.Close()
	addr := l.Addr().String()
	for name, want := range map[string]string{
		"a.example":        "a.example",
		"A.Example":        "a.example",
		"x.wild.example":   "*.wild.example",
		"y.x.wild.example": DefaultCertificateName,
		"bad.example":      DefaultCertificateName,
		"other.example":    DefaultCertificateName,
		"":                 DefaultCertificateName,
	} {
		if got := servedCN(t, addr, name); got != want {
			t.Errorf("SNI %q: certificate %q, want %q", name, got, want)
		}
	}

	// Live update: a new certificate in the Secret is served after Update.
	store["a"] = tlsSecret(t, "a", "a2.example", "2")
	store["bad"] = tlsSecret(t, "bad", "bad.example", "2")
	if _, problems := certs.Update(tab, store.get); len(problems) != 1 {
		t.Errorf("problems after fix: %v", problems)
	}
	if got := servedCN(t, addr, "a.example"); got != "a2.example" {
		t.Errorf("after update: %q", got)
	}
	if got := servedCN(t, addr, "bad.example"); got != "bad.example" {
		t.Errorf("fixed secret: %q", got)
	}

	// HTTP/2 is offered over TLS.
	c := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "a.example"}}}
	resp, err := c.Get("https://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "HTTP/2.0" {
		t.Errorf("proto %s", b)
	}
}

func TestParseSecretWrongType(t *testing.T) {
	s := tlsSecret(t, "x", "x", "1")
	s.Type = corev1.SecretTypeOpaque
	if _, err := parseSecret(s); err == nil || !strings.Contains(err.Error(), "kubectl create secret tls") {
		t.Errorf("err %v", err)
	}
}
