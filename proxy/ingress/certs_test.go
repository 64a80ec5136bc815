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

// TestCertificatesTLSWithoutHosts: a spec.tls entry without hosts serves the Ingress's hosts
// its certificate covers (and they redirect to HTTPS), and on an Ingress with catch-all
// rules becomes the default certificate; see TLSFallback.
func TestCertificatesTLSWithoutHosts(t *testing.T) {
	catch := ing("catch", 0, map[string][]string{"": {"Prefix / web:80"}, "a.example": {"Prefix / a:80"}, "b.example": {"Prefix / b:80"}})
	catch.Spec.TLS = []networkingv1.IngressTLS{{SecretName: "a"}}
	wild := ing("wild", 1, map[string][]string{"c.example": {"Prefix / c:80"}, "*.w.example": {"Prefix / w:80"}})
	wild.Spec.TLS = []networkingv1.IngressTLS{{SecretName: "star"}}
	listed := ing("listed", 2, map[string][]string{"a2.example": {"Prefix / a:80"}})
	listed.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"b.example"}, SecretName: "b"}} // b.example listed: wins over "a"
	later := ing("later", 3, nil)
	later.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "d", Port: networkingv1.ServiceBackendPort{Number: 80}}}
	later.Spec.TLS = []networkingv1.IngressTLS{{SecretName: "other"}}
	useless := ing("useless", 4, map[string][]string{"u.example": {"Prefix / u:80"}})
	useless.Spec.TLS = []networkingv1.IngressTLS{{SecretName: "other"}}
	tab := NewTable([]*networkingv1.Ingress{useless, later, listed, wild, catch})
	store := secrets{"a": tlsSecret(t, "a", "a.example", "1"), "b": tlsSecret(t, "b", "b.example", "1"),
		"star": tlsSecret(t, "star", "*.example", "1"), "other": tlsSecret(t, "other", "other.example", "1")}
	// "star" is *.example: it covers c.example but not x.w.example (two labels).

	certs, err := NewCertificates()
	if err != nil {
		t.Fatal(err)
	}
	hosts, problems := certs.Update(tab, store.get)
	if want := map[string]bool{"a.example": true, "b.example": true, "c.example": true}; !equalSets(hosts, want) {
		t.Errorf("TLS hosts %v, want %v", hosts, want)
	}
	var msgs []string
	for _, p := range problems {
		msgs = append(msgs, p.Ingress.Name+" "+p.Reason+": "+p.Message)
	}
	want := []string{
		"later Conflict: tls entry without hosts (Secret other) is not the default certificate: an older Ingress sets it",
		"useless BadSecret: tls entry without hosts (Secret other) not used: its certificate covers none of the Ingress's hosts; list them in spec.tls[].hosts",
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	for name, cn := range map[string]string{
		"a.example":     "a.example", // covered by catch's entry without hosts
		"b.example":     "b.example", // listed by another Ingress
		"c.example":     "*.example", // covered by wild's entry
		"x.w.example":   "a.example", // not covered: the default, which catch's entry replaced
		"a2.example":    "a.example",
		"other.example": "a.example",
		"":              "a.example",
	} {
		got, err := certs.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
		if err != nil || got.Leaf.Subject.CommonName != cn {
			t.Errorf("SNI %q: %v %v, want %s", name, got.Leaf.Subject.CommonName, err, cn)
		}
	}

	// Without the catch-all Ingress the self-signed certificate is the default again.
	certs.Update(NewTable([]*networkingv1.Ingress{wild}), store.get)
	if got, _ := certs.GetCertificate(&tls.ClientHelloInfo{ServerName: "other.example"}); got.Leaf.Subject.CommonName != DefaultCertificateName {
		t.Errorf("default after the catch-all left: %s", got.Leaf.Subject.CommonName)
	}
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
