package labbench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/svclab/svclab/lab"
	"github.com/svclab/svclab/lab/privtest"
)

// BenchmarkIngress measures HTTP through the lab's ingress controller (keep-alive clients,
// three backend pods) against the same load sent straight to one backend pod, and through
// Debian's nginx as a reverse proxy over the same pods (when nginx is installed), in the
// same run: nginx once on the host and once inside the controller pod's network namespace
// (same network path as the pod IP row). The nginx configuration is an ordinary reverse
// proxy (one worker as the controller has one P, upstream keepalive, no access log); the
// targets are loaded in interleaved rounds and each one's median round is reported.
func BenchmarkIngress(b *testing.B) {
	privtest.Require(b, "ip", "iptables-restore", "kubectl")
	bin := binary(b)
	_ = exec.Command(bin, "down", "--name", labName).Run()
	b.Cleanup(func() { _ = exec.Command(bin, "down", "--name", labName).Run() })
	run(b, bin, "up", "--detach", "--name", labName, "--nodes", "3", "--runtime", "process",
		"--node-cidr", "172.30.250.0/24", "--pod-network-cidr", "10.240.0.0/16",
		"--service-cluster-ip-range", "10.241.0.0/16", "--lb-cidr", "172.30.251.0/24", "--api-port", "0")
	kubeconfig := filepath.Join("/run/svclab", labName, "kubeconfig")
	kubectl := func(args ...string) {
		out, err := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
		if err != nil {
			b.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
	}
	kubectl("create", "deployment", "web", "--image=svclab.local/agent:v1", "--replicas=3")
	kubectl("expose", "deployment", "web", "--port=80")
	kubectl("create", "ingress", "web", "--rule=bench.local/*=web:80")
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var podIPs []string
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, nil
		}
		podIPs = nil
		for i := range pods.Items {
			if podReady(&pods.Items[i]) {
				podIPs = append(podIPs, pods.Items[i].Status.PodIP)
			}
		}
		return len(podIPs) == 3, nil
	})
	if err != nil {
		b.Fatal("the backends never became ready")
	}
	ingressAddr := "172.30.250.12:30080"
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := httpLoad(ctx, ingressAddr, "bench.local", 1, 1)
		return err == nil, nil
	})
	if err != nil {
		b.Fatal("the ingress never routed bench.local")
	}
	// The targets: one backend pod straight, the ingress through the NodePort and through
	// its pod IP (no DNAT hop), Debian's nginx on the host (reached over loopback) and nginx
	// inside the ingress controller pod's network namespace, reached over exactly the path
	// of the pod IP row, so that ratio compares the proxies alone.
	targets := []target{{name: "direct", addr: podIPs[0] + ":80"}, {name: "ingress", addr: ingressAddr}}
	ipod := ingressPod(ctx, client)
	if ipod != nil {
		targets = append(targets, target{name: "pod", addr: ipod.Status.PodIP + ":80"})
	}
	if addr, stop, err := startNginx(b, podIPs, "127.0.0.1:0", ""); err != nil {
		b.Logf("nginx comparison skipped: %v", err)
	} else {
		defer stop()
		targets = append(targets, target{name: "nginx", addr: addr})
	}
	if ipod != nil {
		if addr, stop, err := startNginx(b, podIPs, ipod.Status.PodIP+":8081", lab.PodNetNSPath(labName, ipod)); err != nil {
			b.Logf("nginx in the controller pod skipped: %v", err)
		} else {
			defer stop()
			targets = append(targets, target{name: "nginx-pod", addr: addr})
		}
	}
	// Rounds over all targets in turn, each target's median round reported: the host is
	// shared, and a load burst elsewhere then hits one round of every target instead of
	// all of one target's requests.
	const clients, perClient, rounds = 4, 500, 3
	for r := 0; r < rounds; r++ {
		for i := range targets {
			l, err := httpLoad(ctx, targets[i].addr, "bench.local", clients, perClient)
			if err != nil {
				b.Fatal(err)
			}
			targets[i].loads = append(targets[i].loads, l)
		}
	}
	res := map[string]load{}
	for _, t := range targets {
		res[t.name] = t.median()
	}
	direct, via := res["direct"], res["ingress"]
	b.ReportMetric(via.qps, "req/s")
	b.ReportMetric(via.p50, "p50-ms")
	b.ReportMetric(via.p99, "p99-ms")
	b.ReportMetric(direct.qps, "direct-req/s")
	b.ReportMetric(via.qps/direct.qps, "x-vs-direct")
	pod, okPod := res["pod"]
	if okPod {
		b.ReportMetric(pod.qps, "pod-req/s")
	}
	if ng, ok := res["nginx"]; ok {
		b.ReportMetric(ng.qps, "nginx-req/s")
		b.ReportMetric(via.qps/ng.qps, "x-vs-nginx")
		if okPod {
			b.ReportMetric(pod.qps/ng.qps, "x-vs-nginx-pod")
		}
	}
	if ng, ok := res["nginx-pod"]; ok && okPod {
		b.ReportMetric(ng.qps, "nginx-pod-req/s")
		b.ReportMetric(pod.qps/ng.qps, "x-vs-nginx-same-netns")
	}
}

// target is an address the benchmark loads, with its rounds' results.
type target struct {
	name, addr string
	loads      []load
}

// median is the round with the median requests per second.
func (t target) median() load {
	ls := slices.Clone(t.loads)
	sort.Slice(ls, func(i, j int) bool { return ls[i].qps < ls[j].qps })
	return ls[len(ls)/2]
}

// ingressPod is a ready ingress controller pod, or nil.
func ingressPod(ctx context.Context, client kubernetes.Interface) *corev1.Pod {
	pods, err := client.CoreV1().Pods("ingress-svclab").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=ingress-svclab"})
	if err != nil {
		return nil
	}
	for i := range pods.Items {
		if podReady(&pods.Items[i]) && pods.Items[i].Status.PodIP != "" {
			return &pods.Items[i]
		}
	}
	return nil
}

// httpLoad runs clients keep-alive clients of n sequential GETs each.
func httpLoad(ctx context.Context, addr, host string, clients, n int) (load, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 3 * time.Second}
	var mu sync.Mutex
	var lat []float64
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
				req.Host = host
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s: %s", addr, resp.Status)
					}
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return load{}, firstErr
	}
	total := time.Since(start)
	sort.Float64s(lat)
	return load{qps: float64(len(lat)) / total.Seconds(), p50: lat[len(lat)/2], p99: lat[len(lat)*99/100]}, nil
}

// startNginx runs Debian's nginx as a keep-alive reverse proxy over the backend pods,
// listening on addr (port 0: a free loopback port), inside the network namespace at nsPath
// when it is not empty.
func startNginx(b *testing.B, backends []string, addr, nsPath string) (string, func(), error) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		return "", nil, fmt.Errorf("nginx is not installed (apt-get install nginx-light)")
	}
	if strings.HasSuffix(addr, ":0") {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", nil, err
		}
		addr = ln.Addr().String()
		ln.Close()
	}
	dir := b.TempDir()
	var ups strings.Builder
	for _, ip := range backends {
		fmt.Fprintf(&ups, "    server %s:80;\n", ip)
	}
	conf := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s; uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
  upstream web {
%[2]s    keepalive 32;
  }
  server {
    listen %[3]s;
    location / {
      proxy_pass http://web;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`, dir, ups.String(), addr)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(nginx, "-c", filepath.Join(dir, "nginx.conf"), "-p", dir)
	if nsPath != "" {
		cmd = exec.Command("nsenter", "--net="+nsPath, nginx, "-c", filepath.Join(dir, "nginx.conf"), "-p", dir)
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	for i := 0; i < 50; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, stop, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	data, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	return "", nil, fmt.Errorf("nginx did not start: %s", data)
}
