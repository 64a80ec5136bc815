package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// startServer serves HTTPS on 127.0.0.1 with b's serving certificate and answers with the
// identity k8s.io/apiserver's x509 authenticator derives from the client certificate.
func startServer(t *testing.T, b *Bundle) *httptest.Server {
	t.Helper()
	auth, err := b.ClientCertAuthenticator()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, ok, err := auth.AuthenticateRequest(r)
		if err != nil || !ok {
			http.Error(w, fmt.Sprintf("unauthorized: %v", err), http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "%s %v", resp.User.GetName(), resp.User.GetGroups())
	}))
	srv.TLS = b.ServerTLSConfig()
	// Handshake failures are expected in some cases; the client side asserts on them.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") {
		t.Fatalf("test server is not on loopback: %s", srv.URL)
	}
	return srv
}

func loadRESTConfig(t *testing.T, path string) *rest.Config {
	t.Helper()
	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatalf("load kubeconfig: %v", err)
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*raw, nil).ClientConfig()
	if err != nil {
		t.Fatalf("kubeconfig to rest.Config: %v", err)
	}
	return cfg
}

func get(t *testing.T, cfg *rest.Config, url string) (int, string, error) {
	t.Helper()
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatalf("HTTP client from rest.Config: %v", err)
	}
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

func TestWriteKubeconfig(t *testing.T) {
	b := mustEnsure(t, t.TempDir(), nil)
	path := filepath.Join(t.TempDir(), "kube", "config")
	if err := WriteKubeconfig(path, "https://127.0.0.1:6443", "svclab-lab", b); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode = %o, want 600", st.Mode().Perm())
	}
	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if raw.CurrentContext != "svclab-lab" {
		t.Errorf("current-context = %q", raw.CurrentContext)
	}
	ctx := raw.Contexts["svclab-lab"]
	if ctx == nil || ctx.Cluster != "svclab-lab" || ctx.AuthInfo != "svclab-lab" {
		t.Fatalf("context = %+v", ctx)
	}
	if got := raw.Clusters["svclab-lab"].Server; got != "https://127.0.0.1:6443" {
		t.Errorf("server = %q", got)
	}
	if string(raw.AuthInfos["svclab-lab"].ClientCertificateData) != string(b.AdminCertPEM) {
		t.Error("client certificate is not the admin certificate")
	}
	if err := WriteKubeconfig(path, "", "x", b); err == nil {
		t.Error("WriteKubeconfig with an empty server URL succeeded")
	}
}

func TestKubeconfigTLS(t *testing.T) {
	lab := mustEnsure(t, t.TempDir(), nil)
	other := mustEnsure(t, t.TempDir(), nil) // a different CA

	for _, tc := range []struct {
		name       string
		server     *Bundle
		kubeconfig *Bundle
		adjust     func(*rest.Config)
		wantStatus int
		wantBody   string
		wantErr    string
	}{
		{
			name: "admin kubeconfig", server: lab, kubeconfig: lab,
			wantStatus: http.StatusOK, wantBody: "kubernetes-admin [kubeadm:cluster-admins]",
		},
		{
			name: "no client certificate is unauthenticated, not a TLS failure", server: lab, kubeconfig: lab,
			adjust:     func(c *rest.Config) { c.CertData, c.KeyData = nil, nil },
			wantStatus: http.StatusUnauthorized,
		},
		{
			name: "client certificate from another CA", server: lab, kubeconfig: lab,
			adjust: func(c *rest.Config) { c.CertData, c.KeyData = other.AdminCertPEM, other.AdminKeyPEM },
			// TLS 1.3 reports the server's refusal on the first read, which HTTP/2 words
			// as a connection that could not be established.
			wantErr: "certificate|http2: client conn could not be established",
		},
		{
			name: "server certificate from another CA", server: other, kubeconfig: lab,
			wantErr: "certificate signed by unknown authority",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.server)
			path := filepath.Join(t.TempDir(), "kubeconfig")
			if err := WriteKubeconfig(path, srv.URL, "svclab-test", tc.kubeconfig); err != nil {
				t.Fatal(err)
			}
			cfg := loadRESTConfig(t, path)
			if tc.adjust != nil {
				tc.adjust(cfg)
			}
			status, body, err := get(t, cfg, srv.URL)
			if tc.wantErr != "" {
				if err == nil || !containsAny(err.Error(), strings.Split(tc.wantErr, "|")) {
					t.Fatalf("GET error = %v (status %d), want one containing %q", err, status, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			if status != tc.wantStatus {
				t.Fatalf("status = %d (%s), want %d", status, body, tc.wantStatus)
			}
			if tc.wantBody != "" && body != tc.wantBody {
				t.Errorf("body = %q, want %q", body, tc.wantBody)
			}
		})
	}
}

func TestClientCertAuthenticator(t *testing.T) {
	lab := mustEnsure(t, t.TempDir(), nil)
	other := mustEnsure(t, t.TempDir(), nil)
	nodeCert, _, err := lab.IssueClientCert("system:node:node-1", []string{"system:nodes"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := lab.ClientCertAuthenticator()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		certPEM    []byte // nil: no client certificate
		wantOK     bool
		wantErr    bool
		wantUser   string
		wantGroups string
	}{
		{name: "admin", certPEM: lab.AdminCertPEM, wantOK: true, wantUser: "kubernetes-admin", wantGroups: "[kubeadm:cluster-admins]"},
		{name: "issued node certificate", certPEM: nodeCert, wantOK: true, wantUser: "system:node:node-1", wantGroups: "[system:nodes]"},
		{name: "admin of another CA", certPEM: other.AdminCertPEM, wantErr: true},
		{name: "serving certificate used as a client certificate", certPEM: lab.ServingCertPEM, wantErr: true},
		{name: "no certificate", certPEM: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "https://127.0.0.1/api", nil)
			req.TLS = &tls.ConnectionState{}
			if tc.certPEM != nil {
				req.TLS.PeerCertificates = []*x509.Certificate{mustCert(t, tc.certPEM)}
			}
			resp, ok, err := auth.AuthenticateRequest(req)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, want error %v", err, tc.wantErr)
			}
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if !ok {
				return
			}
			if got := resp.User.GetName(); got != tc.wantUser {
				t.Errorf("user = %q, want %q", got, tc.wantUser)
			}
			if got := fmt.Sprint(resp.User.GetGroups()); got != tc.wantGroups {
				t.Errorf("groups = %s, want %s", got, tc.wantGroups)
			}
		})
	}
}

func TestServingContent(t *testing.T) {
	b := mustEnsure(t, t.TempDir(), nil)
	sc, err := b.ServingContent()
	if err != nil {
		t.Fatal(err)
	}
	cert, key := sc.CurrentCertKeyContent()
	if string(cert) != string(b.ServingCertPEM) || string(key) != string(b.ServingKeyPEM) {
		t.Error("ServingContent does not return the serving pair")
	}
	ca, err := b.ClientCA()
	if err != nil {
		t.Fatal(err)
	}
	if string(ca.CurrentCABundleContent()) != string(b.CAPEM) {
		t.Error("ClientCA does not return ca.crt")
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
