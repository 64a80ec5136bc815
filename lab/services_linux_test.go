package lab

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/svclab/svclab/lab/privtest"
)

// TestPrivilegedServiceTypes is the course's tour of Service types from inside a pod, with
// real kubectl: cluster DNS (short name, namespace, FQDN, headless, SRV, ExternalName, a
// change after scaling), a LoadBalancer with the cloud off (<pending>), and a Service
// without a selector pointing at an app outside the cluster (svclab external run).
func TestPrivilegedServiceTypes(t *testing.T) {
	privtest.Require(t, "ip", "iptables-restore", "kubectl")
	kubectl, _ := exec.LookPath("kubectl")
	opts := testOptions(t, "process")
	opts.Cloud = "none"
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	l, err := Up(ctx, opts)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	t.Cleanup(func() { _ = l.Shutdown(context.Background()) })
	client := l.Client()
	k := func(args ...string) (string, error) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, kubectl, append([]string{"--kubeconfig", l.Paths().Kubeconfig()}, args...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := k(args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	must("create", "deployment", "web", "--image=svclab.local/agent:v1", "--replicas=2")
	must("expose", "deployment", "web", "--port=80", "--name=web")
	must("create", "service", "clusterip", "web-headless", "--clusterip=None", "--tcp=80:80")
	must("set", "selector", "service", "web-headless", "app=web")
	must("create", "service", "externalname", "ext", "--external-name=web.default.svc.cluster.local")
	must("run", "client", "--image=svclab.local/agent:v1")
	waitReadyPods(ctx, t, client, "app=web", 2)
	waitReadyPods(ctx, t, client, "run=client", 1)
	if _, err := client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web-lb"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80)}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	web, err := client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The DNS pods must be ready before the first query.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		out, err := k("exec", "client", "--", "/svclab", "dig", "+short", "web")
		return err == nil && strings.TrimSpace(out) == web.Spec.ClusterIP, nil
	})
	if err != nil {
		out, _ := k("exec", "client", "--", "/svclab", "dig", "web")
		t.Fatalf("web never resolved to %s from the client pod:\n%s", web.Spec.ClusterIP, out)
	}
	dig := func(args ...string) string {
		t.Helper()
		return must(append([]string{"exec", "client", "--", "/svclab", "dig", "+short"}, args...)...)
	}
	for _, name := range []string{"web.default", "web.default.svc.cluster.local"} {
		if got := strings.TrimSpace(dig(name)); got != web.Spec.ClusterIP {
			t.Errorf("dig %s = %q, want %s", name, got, web.Spec.ClusterIP)
		}
	}
	ipLine := regexp.MustCompile(`(?m)^\d+\.\d+\.\d+\.\d+$`)
	if ips := ipLine.FindAllString(dig("web-headless"), -1); len(ips) != 2 {
		t.Errorf("headless web-headless: %v, want the 2 ready pod IPs", ips)
	}
	// kubectl create service names the port "80-80": one SRV record per ready endpoint.
	if srv, err := k("exec", "client", "--", "/svclab", "dig", "_80-80._tcp.web-headless.default.svc.cluster.local", "SRV"); err != nil || strings.Count(srv, " 80 ") != 2 || !strings.Contains(srv, "web-headless.default.svc.cluster.local.") {
		svc, _ := k("get", "svc,endpointslices", "-o", "wide")
		t.Errorf("SRV _80-80._tcp.web-headless: %v, want 2 records on port 80:\n%s\n%s", err, srv, svc)
	}
	if cname := dig("ext"); !strings.Contains(cname, "web.default.svc.cluster.local.") || !strings.Contains(cname, web.Spec.ClusterIP) {
		t.Errorf("ExternalName ext: %q, want the CNAME and web's address", cname)
	}
	// Scaling shows in DNS at once (bounded poll, no timed assertion).
	must("scale", "deployment", "web", "--replicas=3")
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		return len(ipLine.FindAllString(dig("web-headless"), -1)) == 3, nil
	})
	if err != nil {
		t.Errorf("the headless Service never answered 3 addresses after scaling: %q", dig("web-headless"))
	}

	// The cloud is off: the LoadBalancer stays <pending> and its NodePort works.
	time.Sleep(time.Second)
	if out := must("get", "service", "web-lb"); !strings.Contains(out, "<pending>") {
		t.Errorf("LoadBalancer with --cloud none:\n%s", out)
	}

	// A Service without a selector reaches an app outside the cluster.
	xout, err := exec.CommandContext(ctx, opts.Binary, "external", "run", "legacy", "--name", opts.Name).CombinedOutput()
	if err != nil {
		t.Fatalf("svclab external run: %v\n%s", err, xout)
	}
	manifest := string(xout[bytes.Index(xout, []byte("apiVersion")):])
	apply := exec.CommandContext(ctx, kubectl, "--kubeconfig", l.Paths().Kubeconfig(), "apply", "-f", "-")
	apply.Stdin = strings.NewReader(manifest)
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply the selector-less Service: %v\n%s\n%s", err, out, manifest)
	}
	var body string
	err = wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		body, err = k("exec", "client", "--", "/svclab", "curl", "-s", "-m", "2", "http://legacy/")
		return err == nil && strings.Contains(body, "version="), nil
	})
	if err != nil {
		t.Errorf("client -> Service legacy (no selector) -> external app: %q, %v", body, err)
	}
}
