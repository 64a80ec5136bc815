package lab

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/miekg/dns"

	"github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/lab/privtest"
	"github.com/svclab/svclab/proxy/ipvs"
)

// proxyLab is one lab shared by the kube-proxy checks of every mode: two agent pods
// (web-a on the first worker, web-b on the second), a client pod beside web-a, and the
// Services the course uses.
type proxyLab struct {
	t      *testing.T
	l      *Lab
	client kubernetes.Interface
	opts   Options
	pods   map[string]corev1.Pod
	svcs   map[string]*corev1.Service
}

// TestPrivilegedKubeProxyModes runs every proxy mode the kernel supports in one real lab,
// switching modes the learner's way (ConfigMap + rollout restart), and checks real
// traffic: ClusterIP from a pod and from a node, NodePort from the host, UDP, session
// affinity, externalTrafficPolicy: Local, a Service without endpoints, and that no rule
// of the previous mode is left behind.
func TestPrivilegedKubeProxyModes(t *testing.T) {
	privtest.Require(t, "ip", "iptables-restore", "nft", "conntrack")
	opts := testOptions(t, "process")
	before := privtest.HostSnapshot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	l, err := Up(ctx, opts)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	torn := false
	t.Cleanup(func() {
		if !torn {
			_ = l.Shutdown(context.Background())
		}
	})
	p := &proxyLab{t: t, l: l, client: l.Client(), opts: opts, pods: map[string]corev1.Pod{}, svcs: map[string]*corev1.Service{}}
	p.setup(ctx)

	modes := []string{"iptables", "nftables", "userspace", "ipvs"}
	prev := ""
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			if mode == "ipvs" {
				if err := ipvs.CheckKernel(); errors.Is(err, ipvs.ErrNoIPVS) {
					t.Skipf("kernel has no IP Virtual Server support, so the ipvs mode cannot run here (its real-kernel test runs in a qemu VM: TestPrivilegedIPVSQemu): %v", err)
				}
			}
			if mode != "iptables" { // the lab starts in iptables mode
				p.switchMode(ctx, t, mode)
			}
			p.checkMode(ctx, t, mode, prev)
			prev = mode
		})
	}

	torn = true
	if err := l.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if after := privtest.HostSnapshot(t); after != before {
		t.Errorf("the host changed across up/down:\n%s", privtest.Diff(before, after))
	}
}

func (p *proxyLab) nodeNS(i int) string {
	return filepath.Join(network.NetNSDir, network.NodeNetNS(p.opts.Name, NodeName(p.opts.Name, i)))
}

func (p *proxyLab) podNS(name string) string {
	return filepath.Join(network.NetNSDir, network.PodNetNS(p.opts.Name, podIDOf(p.pods[name])))
}

func (p *proxyLab) nodeIP(i int) string {
	n, err := p.client.CoreV1().Nodes().Get(context.Background(), NodeName(p.opts.Name, i), metav1.GetOptions{})
	if err != nil {
		p.t.Fatal(err)
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	p.t.Fatalf("node %d has no InternalIP", i)
	return ""
}

func (p *proxyLab) setup(ctx context.Context) {
	t := p.t
	agent := func(name string, node int) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{
				NodeName: NodeName(p.opts.Name, node),
				Containers: []corev1.Container{{
					Name: "agent", Image: "svclab.local/agent:v1",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}, {Name: "udp-echo", ContainerPort: 9001, Protocol: corev1.ProtocolUDP}},
					Env: []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{
						FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http")}},
						PeriodSeconds: 1},
				}},
			},
		}
	}
	client := agent("client", 1)
	client.Labels = map[string]string{"app": "client"}
	for _, pod := range []*corev1.Pod{agent("web-a", 1), agent("web-b", 2), client} {
		if _, err := p.client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, pod := range append(waitReadyPods(ctx, t, p.client, "app=web", 2), waitReadyPods(ctx, t, p.client, "app=client", 1)...) {
		p.pods[pod.Name] = pod
	}
	svc := func(name string, mutate func(*corev1.Service)) {
		s := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "web"},
				Ports: []corev1.ServicePort{
					{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
					{Name: "udp", Port: 9001, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("udp-echo")},
				},
			},
		}
		if mutate != nil {
			mutate(s)
		}
		created, err := p.client.CoreV1().Services("default").Create(ctx, s, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create Service %s: %v", name, err)
		}
		p.svcs[name] = created
	}
	svc("web", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort })
	svc("web-affinity", func(s *corev1.Service) {
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}
	})
	svc("web-local", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.Selector = map[string]string{"app": "web", "statefulset.kubernetes.io/pod-name": ""}
	})
	// web-local only selects web-a (on the first worker): label it.
	patch := []byte(`{"metadata":{"labels":{"statefulset.kubernetes.io/pod-name":""}}}`)
	if _, err := p.client.CoreV1().Pods("default").Patch(ctx, "web-a", "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	svc("empty", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "nothing"} })
	// Endpoints must be in place before the first check.
	p.waitEndpoints(ctx, "web", 2)
	p.waitEndpoints(ctx, "web-local", 1)
}

func (p *proxyLab) waitEndpoints(ctx context.Context, svc string, n int) {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		ep, err := p.client.CoreV1().Endpoints("default").Get(ctx, svc, metav1.GetOptions{})
		if err != nil || len(ep.Subsets) == 0 {
			return false, nil
		}
		return len(ep.Subsets[0].Addresses) == n, nil
	})
	if err != nil {
		p.t.Fatalf("Service %s never had %d ready endpoints", svc, n)
	}
}

// switchMode edits kube-system/kube-proxy's config.conf and restarts the DaemonSet, as a
// learner would with kubectl edit + kubectl rollout restart.
func (p *proxyLab) switchMode(ctx context.Context, t *testing.T, mode string) {
	cms := p.client.CoreV1().ConfigMaps(metav1.NamespaceSystem)
	cm, err := cms.Get(ctx, "kube-proxy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["config.conf"] = regexp.MustCompile(`(?m)^mode: .*$`).ReplaceAllString(cm.Data["config.conf"], "mode: "+mode)
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	dss := p.client.AppsV1().DaemonSets(metav1.NamespaceSystem)
	ds, err := dss.Get(ctx, "kube-proxy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Spec.Template.Annotations == nil {
		ds.Spec.Template.Annotations = map[string]string{}
	}
	ds.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] = time.Now().Format(time.RFC3339Nano)
	if _, err := dss.Update(ctx, ds, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		ds, err := dss.Get(ctx, "kube-proxy", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		s := ds.Status
		return s.ObservedGeneration == ds.Generation && s.UpdatedNumberScheduled == s.DesiredNumberScheduled &&
			s.NumberReady == s.DesiredNumberScheduled && s.NumberUnavailable == 0, nil
	})
	if err != nil {
		t.Fatalf("kube-proxy rollout to %s mode did not finish", mode)
	}
}

// get does one HTTP GET from inside nsPath ("" = the host) and returns the agent's answer.
func get(ctx context.Context, nsPath, addr string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var conn net.Conn
	var err error
	if nsPath == "" {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = network.DialInNamespace(ctx, nsPath, "tcp", addr)
	}
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return string(body), err
}

var podField = regexp.MustCompile(`pod=(\S+)`)
var clientField = regexp.MustCompile(`client=(\S+):\d+`)

// answeredBy sends n requests and counts the answering pods.
func answeredBy(ctx context.Context, t *testing.T, what, nsPath, addr string, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	var lastErr error
	for i := 0; i < n; i++ {
		body, err := get(ctx, nsPath, addr, 3*time.Second)
		if err != nil {
			lastErr = err
			break // one failure says enough; don't wait out every timeout
		}
		if m := podField.FindStringSubmatch(body); m != nil {
			seen[m[1]]++
		}
	}
	if lastErr != nil {
		t.Errorf("%s: a request to %s failed: %v (answers: %v)", what, addr, lastErr, seen)
	}
	return seen
}

func (p *proxyLab) checkMode(ctx context.Context, t *testing.T, mode, prev string) {
	web := p.svcs["web"]
	clusterIP := web.Spec.ClusterIP
	nodePort := web.Spec.Ports[0].NodePort
	clientNS := p.podNS("client")
	// The first requests may race the new proxy's first sync.
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := get(ctx, clientNS, clusterIP+":80", time.Second)
		return err == nil, nil
	})

	both := func(what string, seen map[string]int) {
		t.Helper()
		if seen["web-a"] == 0 || seen["web-b"] == 0 {
			t.Errorf("%s: not every ready endpoint answered: %v", what, seen)
		}
	}
	both("ClusterIP from a pod", answeredBy(ctx, t, "ClusterIP from a pod", clientNS, clusterIP+":80", 30))
	both("ClusterIP from a node", answeredBy(ctx, t, "ClusterIP from a node", p.nodeNS(2), clusterIP+":80", 30))
	both("NodePort from the host", answeredBy(ctx, t, "NodePort from the host", "", fmt.Sprintf("%s:%d", p.nodeIP(1), nodePort), 30))
	both("NodePort from another node", answeredBy(ctx, t, "NodePort from another node", p.nodeNS(0), fmt.Sprintf("%s:%d", p.nodeIP(2), nodePort), 30))

	// The built-in agent knows its namespace and node without downward-API env.
	if mode == "iptables" {
		body, err := get(ctx, clientNS, p.pods["web-b"].Status.PodIP+":80", 3*time.Second)
		if err != nil || !strings.Contains(body, "ns=default") || !strings.Contains(body, "node="+NodeName(p.opts.Name, 2)) {
			t.Errorf("the agent's answer lacks its namespace or node: %q, %v", body, err)
		}
	}

	// Readiness switched off takes web-b out of the rules; switched on brings it back.
	if mode == "iptables" {
		postReady := func(v string) {
			conn, err := network.DialInNamespace(ctx, clientNS, "tcp", p.pods["web-b"].Status.PodIP+":80")
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "POST /ready?value=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", v)
			_, _ = io.Copy(io.Discard, conn)
			conn.Close()
		}
		onlyA := func(ctx context.Context) (bool, error) {
			seen := answeredBy(ctx, t, "ClusterIP after readiness off", clientNS, clusterIP+":80", 10)
			return seen["web-b"] == 0 && seen["web-a"] == 10, nil
		}
		postReady("false")
		if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, onlyA); err != nil {
			t.Errorf("web-b still gets traffic after its readiness was switched off")
		}
		postReady("true")
		// The rules follow the EndpointSlice a moment after the pod turns Ready.
		var seen map[string]int
		_ = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			seen = answeredBy(ctx, t, "ClusterIP after readiness on", clientNS, clusterIP+":80", 20)
			return seen["web-a"] > 0 && seen["web-b"] > 0, nil
		})
		both("ClusterIP after readiness on", seen)
	}

	// Hairpin: web-a reaching itself through the Service.
	if seen := answeredBy(ctx, t, "hairpin", p.podNS("web-a"), clusterIP+":80", 20); seen["web-a"] == 0 {
		t.Errorf("hairpin: web-a never reached itself through its Service: %v", seen)
	}

	// UDP through the Service.
	if reply, err := udpEcho(ctx, clientNS, clusterIP+":9001"); err != nil || !strings.Contains(reply, "pod=web-") {
		t.Errorf("UDP through the ClusterIP: %q, %v", reply, err)
	}

	// Session affinity keeps one client on one endpoint.
	if seen := answeredBy(ctx, t, "affinity", clientNS, p.svcs["web-affinity"].Spec.ClusterIP+":80", 15); len(seen) != 1 {
		t.Errorf("sessionAffinity ClientIP: the client went to %v, want one endpoint", seen)
	}

	// Cluster DNS through this mode: the kube-dns Service answers web's A record.
	dnsSvc, err := p.client.CoreV1().Services(metav1.NamespaceSystem).Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var answer string
	_ = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		answer, err = lookupIn(ctx, clientNS, dnsSvc.Spec.ClusterIP+":53", "web.default.svc.cluster.local.")
		return err == nil && answer == clusterIP, nil
	})
	if answer != clusterIP {
		t.Errorf("DNS through the kube-dns Service: web.default.svc.cluster.local = %q (%v), want %s", answer, err, clusterIP)
	}

	// Pods reach the API server through the kubernetes Service (TLS handshake with the
	// cluster CA's server certificate).
	kube, err := p.client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if conn, err := network.DialInNamespace(ctx, clientNS, "tcp", kube.Spec.ClusterIP+":443"); err != nil {
		t.Errorf("pod -> kubernetes Service: %v", err)
	} else {
		tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: "kubernetes.default.svc"})
		_ = tc.SetDeadline(time.Now().Add(3 * time.Second))
		if err := tc.Handshake(); err != nil {
			t.Errorf("pod -> kubernetes Service: TLS: %v", err)
		}
		tc.Close()
	}

	// A Service without endpoints is refused at once.
	start := time.Now()
	_, err = get(ctx, clientNS, p.svcs["empty"].Spec.ClusterIP+":80", 5*time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) || time.Since(start) > 2*time.Second {
		t.Errorf("Service without endpoints: err=%v after %v, want connection refused at once", err, time.Since(start))
	}

	// externalTrafficPolicy: Local.
	if mode == "userspace" {
		t.Log("userspace mode: externalTrafficPolicy Local is not implemented by the historic userspace proxy (every connection is re-originated by the proxy)")
	} else {
		local := p.svcs["web-local"]
		np := local.Spec.Ports[0].NodePort
		body, err := get(ctx, "", fmt.Sprintf("%s:%d", p.nodeIP(1), np), 3*time.Second)
		gateway := p.l.plan.Gateway().String()
		if err != nil || !strings.Contains(body, "pod=web-a") {
			t.Errorf("Local NodePort on the node with the endpoint: %q, %v", body, err)
		} else if m := clientField.FindStringSubmatch(body); m == nil || m[1] != gateway {
			t.Errorf("Local NodePort: the client address was not preserved: the pod saw %v, the host is %s", m, gateway)
		}
		if mode != "ipvs" { // upstream ipvs falls back to remote endpoints instead of dropping
			if body, err := get(ctx, "", fmt.Sprintf("%s:%d", p.nodeIP(2), np), 1500*time.Millisecond); err == nil {
				t.Errorf("Local NodePort on a node without a local endpoint answered: %q (want the packet dropped)", body)
			}
		}
	}

	// svclab trace reads this node's live rules and names both endpoints.
	traceOut, err := exec.CommandContext(ctx, p.opts.Binary, "trace", "--name", p.opts.Name, "--node", NodeName(p.opts.Name, 1),
		"--from", p.pods["client"].Status.PodIP, "--to", clusterIP+":80").CombinedOutput()
	wantVerdict := "verdict: forwarded"
	if mode == "userspace" {
		wantVerdict = "verdict: proxied"
	}
	if err != nil || !strings.Contains(string(traceOut), wantVerdict) ||
		!strings.Contains(string(traceOut), p.pods["web-a"].Status.PodIP+":80") || !strings.Contains(string(traceOut), p.pods["web-b"].Status.PodIP+":80") {
		t.Errorf("svclab trace in %s mode: %v\n%s", mode, err, traceOut)
	}

	// kube-proxy's metrics and /proxyMode, on the node's loopback as upstream.
	for path, want := range map[string]string{"/metrics": "kubeproxy_sync_proxy_rules_duration_seconds_count", "/proxyMode": mode} {
		conn, err := network.DialInNamespace(ctx, p.nodeNS(1), "tcp", "127.0.0.1:10249")
		if err != nil {
			t.Errorf("kube-proxy metrics: %v", err)
			continue
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
		body, _ := io.ReadAll(io.LimitReader(conn, 1<<20))
		conn.Close()
		if !strings.Contains(string(body), want) {
			t.Errorf("kube-proxy %s lacks %q:\n%.500s", path, want, body)
		}
	}

	// Nothing of the previous mode is left on any node.
	if prev != "" {
		for i := 0; i < p.opts.Nodes; i++ {
			p.checkNoRulesOf(t, prev, i)
		}
	}
}

func (p *proxyLab) checkNoRulesOf(t *testing.T, mode string, node int) {
	ns := network.NodeNetNS(p.opts.Name, NodeName(p.opts.Name, node))
	out := func(args ...string) string {
		b, _ := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
		return string(b)
	}
	switch mode {
	case "iptables":
		if s := out("iptables-save"); strings.Contains(s, "KUBE-SVC-") || strings.Contains(s, "KUBE-SERVICES") {
			t.Errorf("node %d still has iptables-mode rules:\n%s", node, s)
		}
	case "nftables":
		if s := out("nft", "list", "tables"); strings.Contains(s, "kube-proxy") {
			t.Errorf("node %d still has the nftables table:\n%s", node, s)
		}
	case "userspace":
		if s := out("iptables-save"); strings.Contains(s, "KUBE-PORTALS") || strings.Contains(s, "KUBE-NODEPORT-") {
			t.Errorf("node %d still has userspace portal rules:\n%s", node, s)
		}
	}
}

// lookupIn asks server (from inside nsPath, over UDP) for name's A record.
func lookupIn(ctx context.Context, nsPath, server, name string) (string, error) {
	conn, err := network.DialInNamespace(ctx, nsPath, "udp", server)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	c := &dns.Conn{Conn: conn}
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	if err := c.WriteMsg(q); err != nil {
		return "", err
	}
	r, err := c.ReadMsg()
	if err != nil {
		return "", err
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String(), nil
		}
	}
	return "", fmt.Errorf("no A record (rcode %s)", dns.RcodeToString[r.Rcode])
}

// udpEcho sends one datagram from inside nsPath and returns the reply (retrying a few
// times, UDP being UDP).
func udpEcho(ctx context.Context, nsPath, addr string) (string, error) {
	var lastErr error
	for i := 0; i < 5; i++ {
		conn, err := network.DialInNamespace(ctx, nsPath, "udp", addr)
		if err != nil {
			return "", err
		}
		_ = conn.SetDeadline(time.Now().Add(time.Second))
		_, _ = conn.Write([]byte("hello\n"))
		buf := make([]byte, 2048)
		n, err := conn.Read(buf)
		conn.Close()
		if err == nil {
			return string(buf[:n]), nil
		}
		lastErr = err
	}
	return "", lastErr
}
