package labbench

import (
	"context"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/lab"
	"github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/lab/privtest"
)

// BenchmarkDNS measures cluster DNS from a pod on another node than the DNS server:
// queries per second and p50/p99 through the kube-dns Service, against the same load sent
// straight to the DNS pod's IP in the same run.
func BenchmarkDNS(b *testing.B) {
	privtest.Require(b, "ip", "iptables-restore")
	bin := binary(b)
	_ = exec.Command(bin, "down", "--name", labName).Run()
	b.Cleanup(func() { _ = exec.Command(bin, "down", "--name", labName).Run() })
	run(b, bin, "up", "--detach", "--name", labName, "--nodes", "3", "--runtime", "process",
		"--node-cidr", "172.30.250.0/24", "--pod-network-cidr", "10.240.0.0/16",
		"--service-cluster-ip-range", "10.241.0.0/16", "--lb-cidr", "172.30.251.0/24", "--api-port", "0")
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join("/run/svclab", labName, "kubeconfig"))
	if err != nil {
		b.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// One DNS replica, so "another node" is well defined.
	scale, err := client.AppsV1().Deployments("kube-system").GetScale(ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	scale.Spec.Replicas = 1
	if _, err := client.AppsV1().Deployments("kube-system").UpdateScale(ctx, "coredns", scale, metav1.UpdateOptions{}); err != nil {
		b.Fatal(err)
	}
	var server corev1.Pod
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"})
		if err != nil || len(pods.Items) != 1 || pods.Items[0].Status.PodIP == "" || pods.Items[0].DeletionTimestamp != nil {
			return false, nil
		}
		server = pods.Items[0]
		return podReady(&server), nil
	})
	if err != nil {
		b.Fatal("the DNS pod never became ready")
	}
	clientNode := lab.NodeName(labName, 1)
	if server.Spec.NodeName == clientNode {
		clientNode = lab.NodeName(labName, 2)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "dns-client"}, Spec: corev1.PodSpec{NodeName: clientNode,
		Containers:                    []corev1.Container{{Name: "agent", Image: "svclab.local/agent:v1"}},
		TerminationGracePeriodSeconds: ptr.To[int64](1)}}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods("default").Get(ctx, "dns-client", metav1.GetOptions{})
		if err != nil || !podReady(p) {
			return false, nil
		}
		pod = p
		return true, nil
	})
	if err != nil {
		b.Fatal("the client pod never became ready")
	}
	svc, err := client.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	nsPath := lab.PodNetNSPath(labName, pod)
	const queries = 2000
	direct := dnsLoad(ctx, b, nsPath, server.Status.PodIP+":53", queries)
	viaSvc := dnsLoad(ctx, b, nsPath, svc.Spec.ClusterIP+":53", queries)
	b.ReportMetric(viaSvc.qps, "qps")
	b.ReportMetric(viaSvc.p50, "p50-ms")
	b.ReportMetric(viaSvc.p99, "p99-ms")
	b.ReportMetric(direct.qps, "direct-qps")
	b.ReportMetric(viaSvc.qps/direct.qps, "x-vs-direct")
	b.ReportMetric(viaSvc.p50/direct.p50, "x-p50-vs-direct")
}

type load struct{ qps, p50, p99 float64 }

// dnsLoad sends n sequential A queries for kubernetes.default.svc.cluster.local from
// inside nsPath over one UDP socket.
func dnsLoad(ctx context.Context, b *testing.B, nsPath, server string, n int) load {
	conn, err := network.DialInNamespace(ctx, nsPath, "udp", server)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	c := &dns.Conn{Conn: conn}
	q := new(dns.Msg)
	q.SetQuestion("kubernetes.default.svc.cluster.local.", dns.TypeA)
	lat := make([]float64, 0, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		q.Id = dns.Id()
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		if err := c.WriteMsg(q); err != nil {
			b.Fatal(err)
		}
		if _, err := c.ReadMsg(); err != nil {
			b.Fatalf("query %d to %s: %v", i, server, err)
		}
		lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
	}
	total := time.Since(start)
	sort.Float64s(lat)
	return load{qps: float64(n) / total.Seconds(), p50: lat[len(lat)/2], p99: lat[len(lat)*99/100]}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
