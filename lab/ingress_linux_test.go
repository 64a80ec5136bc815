package lab

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/svclab/svclab/lab/privtest"
)

// TestPrivilegedIngress is the course's Ingress section with real kubectl: fan-out by path,
// name-based hosting on one address, a TLS host answering with its own certificate by SNI
// (others get the default), and requests spread over a backend's endpoints — all from the
// host to a node's ingress NodePort.
func TestPrivilegedIngress(t *testing.T) {
	privtest.Require(t, "ip", "iptables-restore", "kubectl")
	kubectl, _ := exec.LookPath("kubectl")
	opts := testOptions(t, "process")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	l, err := Up(ctx, opts)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	t.Cleanup(func() { _ = l.Shutdown(context.Background()) })
	must := func(args ...string) {
		t.Helper()
		out, err := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", l.Paths().Kubeconfig()}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	certFile, keyFile := selfSigned(t, "secure.local")
	must("create", "deployment", "app1", "--image=svclab.local/agent:v1", "--replicas=2")
	must("create", "deployment", "app2", "--image=svclab.local/agent:v2")
	must("expose", "deployment", "app1", "--port=80")
	must("expose", "deployment", "app2", "--port=80")
	must("create", "ingress", "fanout", "--rule=demo.local/app1*=app1:80", "--rule=demo.local/app2*=app2:80")
	must("create", "ingress", "hosts", "--rule=one.local/*=app1:80", "--rule=two.local/*=app2:80")
	must("create", "secret", "tls", "secure", "--cert="+certFile, "--key="+keyFile)
	must("create", "ingress", "secure", "--rule=secure.local/*=app1:80,tls=secure")
	waitReadyPods(ctx, t, l.Client(), "app=app1", 2)
	waitReadyPods(ctx, t, l.Client(), "app=app2", 1)

	nodeIP, err := l.plan.NodeIP(1)
	if err != nil {
		t.Fatal(err)
	}
	node := nodeIP.String()
	httpAddr := net.JoinHostPort(node, fmt.Sprint(IngressHTTPNodePort))
	get := func(host, path string) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+path, nil)
		req.Host = host
		resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return fmt.Sprintf("%d %s", resp.StatusCode, b), nil
	}
	// The controller picks the Ingresses up within a moment of its start.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		body, err := get("demo.local", "/app2")
		return err == nil && strings.Contains(body, "pod=app2-"), nil
	})
	if err != nil {
		body, err := get("demo.local", "/app2")
		t.Fatalf("the ingress never routed demo.local/app2: %q %v", body, err)
	}
	for _, tc := range []struct{ host, path, want string }{
		{"demo.local", "/app1", "pod=app1-"}, {"demo.local", "/app2/x", "pod=app2-"},
		{"one.local", "/", "pod=app1-"}, {"two.local", "/anything", "pod=app2-"},
		{"demo.local", "/app1x", "404 default backend"}, {"nobody.local", "/", "404 default backend"},
	} {
		if body, err := get(tc.host, tc.path); err != nil || !strings.Contains(body, tc.want) {
			t.Errorf("http://%s%s: %q %v, want %q", tc.host, tc.path, body, err, tc.want)
		}
	}
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		if body, err := get("one.local", "/"); err == nil {
			if f := strings.Fields(body); len(f) > 1 {
				seen[f[1]] = true
			}
		}
	}
	if len(seen) != 2 {
		t.Errorf("one.local was served by %v, want both app1 pods", seen)
	}

	// Removing an endpoint mid-traffic drops no request: scale app1 down while a bounded
	// loop of requests runs.
	done := make(chan []string)
	go func() {
		var failures []string
		for i := 0; i < 150; i++ {
			body, err := get("one.local", "/")
			if err != nil || !strings.HasPrefix(body, "200 ") {
				failures = append(failures, fmt.Sprintf("%q %v", body, err))
			}
			time.Sleep(20 * time.Millisecond)
		}
		done <- failures
	}()
	podsBefore, _ := exec.Command(kubectl, "--kubeconfig", l.Paths().Kubeconfig(), "get", "pods", "-l", "app=app1", "-o", "wide").CombinedOutput()
	time.Sleep(500 * time.Millisecond)
	must("scale", "deployment", "app1", "--replicas=1")
	if failures := <-done; len(failures) > 0 {
		podsAfter, _ := exec.Command(kubectl, "--kubeconfig", l.Paths().Kubeconfig(), "get", "pods", "-l", "app=app1", "-o", "wide").CombinedOutput()
		podsBefore = append(podsBefore, append([]byte("after:\n"), podsAfter...)...)
		// The controller's lines about this: anything but a quick 200.
		logs, _ := exec.Command(kubectl, "--kubeconfig", l.Paths().Kubeconfig(), "-n", IngressNamespace, "logs", "--tail=1000", "deployment/ingress-svclab-controller").CombinedOutput()
		var unusual []string
		for _, line := range strings.Split(string(logs), "\n") {
			if line != "" && !(strings.Contains(line, `HTTP/1.1" 200 `) && strings.Contains(line, "upstream_time=0.0")) {
				unusual = append(unusual, line)
			}
		}
		t.Errorf("%d of 150 requests failed while app1 scaled down: %v\napp1's pods before:\n%s\nthe ingress controller's unusual log lines:\n%s", len(failures), failures, podsBefore, strings.Join(unusual, "\n"))
	}

	// TLS: the secure host's own certificate by SNI, the default one for other names.
	httpsAddr := net.JoinHostPort(node, fmt.Sprint(IngressHTTPSNodePort))
	subject := func(name string) string {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", httpsAddr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
		if err != nil {
			return err.Error()
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := subject("secure.local"); got != "secure.local" {
		t.Errorf("SNI secure.local got certificate %q", got)
	}
	if got := subject("other.local"); got == "secure.local" || strings.Contains(got, "error") {
		t.Errorf("SNI other.local got %q, want the default certificate", got)
	}
}

// selfSigned writes a certificate and key for name into a temporary directory.
func selfSigned(t *testing.T, name string) (certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}
