package cloud_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/lab"
	"github.com/svclab/svclab/lab/privtest"
)

// TestPrivilegedLoadBalancerInLab runs a whole lab (process runtime, ~20 s) on
// 172.31.<r>.0/24 with its pool on 172.31.<r+100>.0/24 and checks the LoadBalancer path
// from the host: address within a second, HTTP spread over pods, Local policy keeps the
// client address, type change releases everything.
func TestPrivilegedLoadBalancerInLab(t *testing.T) {
	privtest.Require(t, "ip")
	dir := t.TempDir()
	bin := filepath.Join(dir, "svclab")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "../../cmd/svclab")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build svclab: %v\n%s", err, out)
	}
	r := rand.IntN(200) + 20
	opts := lab.DefaultOptions()
	opts.Name = fmt.Sprintf("svtc%d", r)
	opts.Runtime = "process"
	opts.NodeCIDR = fmt.Sprintf("172.31.%d.0/24", r)
	opts.PodCIDR = fmt.Sprintf("10.%d.0.0/16", 200+r%50)
	opts.ServiceCIDR = fmt.Sprintf("10.%d.0.0/16", 150+r%50)
	opts.LBCIDR = fmt.Sprintf("172.31.%d.0/24", (r+100)%250)
	opts.Binary = bin
	opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	l, err := lab.Up(ctx, opts)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	t.Cleanup(func() { _ = l.Shutdown(context.Background()) })
	client := l.Client()
	pool := netip.MustParsePrefix(opts.LBCIDR)

	if _, err := client.AppsV1().Deployments("default").Create(ctx, webDeployment(4), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPods(ctx, t, client, 4)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(80)}},
		},
	}
	created := time.Now()
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ip string
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		s, err := client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
		if err == nil && len(s.Status.LoadBalancer.Ingress) == 1 {
			ip = s.Status.LoadBalancer.Ingress[0].IP
		}
		return ip != "", nil
	}); err != nil {
		t.Fatalf("no EXTERNAL-IP: %v", err)
	}
	if d := time.Since(created); d > time.Second {
		t.Errorf("EXTERNAL-IP after %v, want within a second", d)
	} else {
		t.Logf("EXTERNAL-IP %s after %v", ip, d)
	}
	url := "http://" + ip + ":8080/"

	// Spread: fresh connections from the host reach several pods.
	seen := map[string]bool{}
	podRE := regexp.MustCompile(`pod=(\S+)`)
	for range 30 {
		if m := podRE.FindStringSubmatch(get(t, url)); m != nil {
			seen[m[1]] = true
		}
	}
	if len(seen) < 2 {
		t.Errorf("30 requests to %s reached %d pod(s) %v, want several", url, len(seen), seen)
	}

	// Local: only nodes with endpoints, and the pod sees the host's address.
	s, err := client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	if _, err := client.CoreV1().Services("default").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	gateway := netip.MustParsePrefix(opts.NodeCIDR).Addr().Next().String()
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return strings.Contains(get(t, url), "client="+gateway+":"), nil
	}); err != nil {
		t.Errorf("with externalTrafficPolicy Local the pod does not see the client %s: last answer %q", gateway, get(t, url))
	}

	// Type change: address released, route gone.
	s, err = client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Spec.Type = corev1.ServiceTypeClusterIP
	s.Spec.ExternalTrafficPolicy = ""
	if _, err := client.CoreV1().Services("default").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return hostRoutesMentioning(t, ip+" ") == "", nil
	}); err != nil {
		t.Errorf("route to %s left after the type change: %s", ip, hostRoutesMentioning(t, ip+" "))
	}
	if err := l.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	lbNet := strings.TrimSuffix(pool.Addr().String(), ".0") + "."
	if left := hostRoutesMentioning(t, lbNet); left != "" {
		t.Errorf("routes left after shutdown:\n%s", left)
	}
}

func get(t *testing.T, url string) string {
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Logf("GET %s: %v", url, err)
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func webDeployment(replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "agent", Image: "svclab.local/agent:v1",
					Env: []corev1.EnvVar{
						{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
						{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
					},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt32(80)}}, PeriodSeconds: 1},
				}}},
			},
		},
	}
}

func waitPods(ctx context.Context, t *testing.T, client kubernetes.Interface, n int) {
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, nil
		}
		ready := 0
		for _, p := range list.Items {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
					ready++
				}
			}
		}
		return ready == n, nil
	})
	if err != nil {
		t.Fatalf("%d web pods not Ready: %v", n, err)
	}
}
