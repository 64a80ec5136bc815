package labbench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/lab/privtest"
)

// Address plan: lab "svbench", nodes 172.30.250.0/24, pods 10.240.0.0/16, services
// 10.241.0.0/16, load balancers 172.30.251.0/24.
const labName = "svbench"

func binary(b *testing.B) string {
	if bin := os.Getenv("SVCLAB_BIN"); bin != "" {
		return bin
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "svclab")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "../../cmd/svclab")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func run(b *testing.B, bin string, args ...string) {
	b.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		b.Fatalf("svclab %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
}

// peakRSS is the process's high-water resident set (VmHWM) in MiB.
func peakRSS(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			kb, _ := strconv.ParseFloat(f[0], 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkLab measures one lab lifecycle per runtime. The process runtime is the
// baseline the containerd numbers are compared with.
func BenchmarkLab(b *testing.B) {
	privtest.Require(b, "ip", "iptables-restore")
	bin := binary(b)
	var base struct{ up, down float64 }
	for _, rt := range []string{"process", "containerd"} {
		b.Run("runtime="+rt, func(b *testing.B) {
			if rt == "containerd" {
				if _, err := exec.LookPath("containerd"); err != nil {
					b.Skip("containerd is not installed (sudo make deps)")
				}
			}
			var up, down, rss float64
			for i := 0; i < b.N; i++ {
				u, d, r := lifecycle(b, bin, rt)
				up, down, rss = up+u, down+d, max(rss, r)
			}
			up, down = up/float64(b.N), down/float64(b.N)
			b.ReportMetric(up, "s-up-to-ready")
			b.ReportMetric(down, "s-down")
			b.ReportMetric(rss, "MiB-peak-rss")
			if rt == "process" {
				base.up, base.down = up, down
			} else if base.up > 0 {
				b.ReportMetric(up/base.up, "x-up-vs-process")
				b.ReportMetric(down/base.down, "x-down-vs-process")
			}
		})
	}
}

// lifecycle runs up → 3 nodes Ready → 3-replica deployment Running → down.
func lifecycle(b *testing.B, bin, rt string) (upSec, downSec, rssMiB float64) {
	_ = exec.Command(bin, "down", "--name", labName).Run()
	b.Cleanup(func() { _ = exec.Command(bin, "down", "--name", labName).Run() })
	start := time.Now()
	run(b, bin, "up", "--detach", "--name", labName, "--nodes", "3", "--runtime", rt,
		"--node-cidr", "172.30.250.0/24", "--pod-network-cidr", "10.240.0.0/16",
		"--service-cluster-ip-range", "10.241.0.0/16", "--lb-cidr", "172.30.251.0/24", "--api-port", "0")
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join("/run/svclab", labName, "kubeconfig"))
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	labels := map[string]string{"app": "bench"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "svclab.local/agent:v1"}}},
			},
		},
	}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=bench"})
		if err != nil {
			return false, nil
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		return running == 3, nil
	})
	if err != nil {
		b.Fatalf("the deployment never ran 3 pods: %v", err)
	}
	upSec = time.Since(start).Seconds()
	data, _ := os.ReadFile(filepath.Join("/run/svclab", labName, "pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	rssMiB = peakRSS(pid)
	start = time.Now()
	run(b, bin, "down", "--name", labName)
	downSec = time.Since(start).Seconds()
	return upSec, downSec, rssMiB
}
