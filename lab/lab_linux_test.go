package lab

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

	"github.com/svclab/svclab/lab/image"
	"github.com/svclab/svclab/lab/network"
	"github.com/svclab/svclab/lab/privtest"
)

// Test address plan: each privileged lab test uses its own lab name and the ranges
// 172.31.<r>.0/24 (nodes), 10.<200+r%50>.0.0/16 (pods), 10.<150+r%50>.0.0/16 (services),
// so a learner's real lab on the defaults is never touched.

var svclabBinary string

func TestMain(m *testing.M) {
	code := m.Run()
	if svclabBinary != "" {
		os.RemoveAll(filepath.Dir(svclabBinary))
	}
	os.Exit(code)
}

// buildBinary builds the static svclab binary the lab's built-in image is made of.
func buildBinary(t *testing.T) string {
	t.Helper()
	if svclabBinary != "" {
		return svclabBinary
	}
	dir, err := os.MkdirTemp("", "svclab-labtest-")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "svclab")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "../cmd/svclab")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build svclab: %v\n%s", err, out)
	}
	svclabBinary = bin
	return bin
}

func testOptions(t *testing.T, runtimeName string) Options {
	r := rand.IntN(200) + 20
	o := DefaultOptions()
	o.Name = fmt.Sprintf("svt%d", r)
	o.Runtime = runtimeName
	o.NodeCIDR = fmt.Sprintf("172.31.%d.0/24", r)
	o.PodCIDR = fmt.Sprintf("10.%d.0.0/16", 200+r%50)
	o.ServiceCIDR = fmt.Sprintf("10.%d.0.0/16", 150+r%50)
	o.LBCIDR = fmt.Sprintf("172.31.%d.0/24", (r+100)%250)
	o.Binary = buildBinary(t)
	o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		o.Out = os.Stderr
	}
	return o
}

func TestPrivilegedLabProcessRuntime(t *testing.T) {
	privtest.Require(t, "ip")
	testLab(t, "process")
}

func TestPrivilegedLabContainerdRuntime(t *testing.T) {
	privtest.Require(t, "ip", "containerd", "runc")
	testLab(t, "containerd")
}

func testLab(t *testing.T, runtimeName string) {
	opts := testOptions(t, runtimeName)
	before := privtest.HostSnapshot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
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
	client := l.Client()

	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 3 {
		t.Fatalf("want 3 nodes, got %d (%v)", len(nodes.Items), err)
	}

	// A 4-replica deployment of the built-in agent, with an HTTP readiness probe and a
	// liveness probe, spread over the two workers.
	dep := agentDeployment("web", 4)
	if _, err := client.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := waitReadyPods(ctx, t, client, "app=web", 4)
	nodesUsed := map[string]bool{}
	for _, p := range pods {
		nodesUsed[p.Spec.NodeName] = true
	}
	if len(nodesUsed) < 2 {
		t.Errorf("pods run on %d node(s), want at least 2: %v", len(nodesUsed), nodesUsed)
	}

	// HTTP from one pod to every pod (same node and other nodes), from every node to every
	// pod, and from the host to every pod.
	from := pods[0]
	fromNS := filepath.Join(network.NetNSDir, network.PodNetNS(opts.Name, podIDOf(from)))
	for _, p := range pods {
		body := httpGetIn(ctx, t, fromNS, p.Status.PodIP+":80")
		if !strings.Contains(body, "pod="+p.Name) {
			t.Errorf("pod %s → pod %s: answer %q does not name the pod", from.Name, p.Name, body)
		}
		for i := 0; i < 3; i++ {
			nodeNS := filepath.Join(network.NetNSDir, network.NodeNetNS(opts.Name, NodeName(opts.Name, i)))
			if body := httpGetIn(ctx, t, nodeNS, p.Status.PodIP+":80"); !strings.Contains(body, "pod="+p.Name) {
				t.Errorf("node %d → pod %s: answer %q", i, p.Name, body)
			}
		}
		if body := httpGetIn(ctx, t, "", p.Status.PodIP+":80"); !strings.Contains(body, "pod="+p.Name) {
			t.Errorf("host → pod %s: answer %q", p.Name, body)
		}
	}

	// kubectl logs: the agent logs every request it answers.
	var logs strings.Builder
	if err := l.podLogs(ctx, pods[1].Spec.NodeName, "default", pods[1].Name, &corev1.PodLogOptions{Container: "agent"}, &logs); err != nil {
		t.Fatalf("logs: %v", err)
	}
	if !strings.Contains(logs.String(), "GET /") {
		t.Errorf("logs of %s show no request:\n%s", pods[1].Name, logs.String())
	}

	// Readiness switched off in the agent removes the pod's Ready condition.
	target := pods[2]
	postIn(ctx, t, fromNS, target.Status.PodIP+":80", "/ready?value=false")
	waitPod(ctx, t, client, target.Name, "Ready=False", func(p *corev1.Pod) bool { return !podReady(p) })

	// A failing liveness probe restarts the container.
	victim := pods[3]
	postIn(ctx, t, fromNS, victim.Status.PodIP+":80", "/fail-liveness")
	waitPod(ctx, t, client, victim.Name, "restartCount>=1", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})

	if runtimeName == "containerd" {
		checkImageImport(ctx, t, opts, client)
	}

	torn = true
	if err := l.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if after := privtest.HostSnapshot(t); after != before {
		t.Errorf("the host changed across up/down:\n%s", privtest.Diff(before, after))
	}
}

func agentDeployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	probe := func(path string, failures int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(80)}},
			InitialDelaySeconds: 1, PeriodSeconds: 1, FailureThreshold: failures}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "agent", Image: "svclab.local/agent:v1",
					Env: []corev1.EnvVar{
						{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
						{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
						{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
					},
					ReadinessProbe: probe("/readyz", 1),
					LivenessProbe:  probe("/healthz", 3),
				}}},
			},
		},
	}
}

func podIDOf(p corev1.Pod) string { return podID(&p) }

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func waitReadyPods(ctx context.Context, t *testing.T, client kubernetes.Interface, selector string, n int) []corev1.Pod {
	t.Helper()
	var ready []corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, nil
		}
		ready = ready[:0]
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning && podReady(&p) && p.DeletionTimestamp == nil {
				ready = append(ready, p)
			}
		}
		return len(ready) == n, nil
	})
	if err != nil {
		list, _ := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
		for _, p := range list.Items {
			t.Logf("pod %s on %q: phase %s conditions %+v statuses %+v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.Conditions, p.Status.ContainerStatuses)
		}
		t.Fatalf("%d of %d pods Running and Ready: %v", len(ready), n, err)
	}
	return ready
}

func waitPod(ctx context.Context, t *testing.T, client kubernetes.Interface, name, what string, cond func(*corev1.Pod) bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		return err == nil && cond(p), nil
	})
	if err != nil {
		p, _ := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		t.Fatalf("pod %s never reached %s: %+v", name, what, p.Status)
	}
}

// httpGetIn does one bounded HTTP GET from inside a namespace ("" = the host).
func httpGetIn(ctx context.Context, t *testing.T, nsPath, addr string) string {
	t.Helper()
	return doHTTP(ctx, t, nsPath, "GET", addr, "/")
}

func postIn(ctx context.Context, t *testing.T, nsPath, addr, path string) {
	t.Helper()
	doHTTP(ctx, t, nsPath, "POST", addr, path)
}

func doHTTP(ctx context.Context, t *testing.T, nsPath, method, addr, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var conn io.ReadWriteCloser
	var err error
	if nsPath == "" {
		conn, err = (&netDialer{}).dial(ctx, addr)
	} else {
		conn, err = network.DialInNamespace(ctx, nsPath, "tcp", addr)
	}
	if err != nil {
		t.Errorf("%s %s from %s: %v", method, addr, nsPath, err)
		return ""
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", method, path, addr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Errorf("%s %s from %s: %v", method, addr, nsPath, err)
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return string(body)
}

// checkImageImport is `svclab image import` for a classroom without a registry: an OCI
// archive of another name is loaded into the lab's containerd, listed, and runs a pod.
func checkImageImport(ctx context.Context, t *testing.T, opts Options, client kubernetes.Interface) {
	t.Helper()
	src, _, err := image.Build(opts.Binary)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	// Rename the built-in image's references: same blobs, another name.
	pr, pw := io.Pipe()
	go func() {
		tr, tw := tar.NewReader(src), tar.NewWriter(pw)
		for {
			h, err := tr.Next()
			if err != nil {
				pw.CloseWithError(tw.Close())
				return
			}
			body, _ := io.ReadAll(tr)
			if h.Name == "index.json" {
				body = bytes.ReplaceAll(body, []byte("svclab.local/agent:"), []byte("classroom.local/hello:"))
				h.Size = int64(len(body))
			}
			if err := tw.WriteHeader(h); err != nil {
				pw.CloseWithError(err)
				return
			}
			_, _ = tw.Write(body)
		}
	}()
	names, err := ImportImages(ctx, opts.Name, pr, opts.Log)
	if err != nil || !slices.Contains(names, "classroom.local/hello:v1") {
		t.Fatalf("import: %v %v", names, err)
	}
	imgs, err := Images(ctx, opts.Name, opts.Log)
	var listed []string
	for _, i := range imgs {
		listed = append(listed, i.Name)
	}
	if err != nil || !slices.Contains(listed, "classroom.local/hello:v2") || !slices.Contains(listed, "svclab.local/agent:v1") {
		t.Errorf("image ls: %v %v", listed, err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "imported", Labels: map[string]string{"app": "imported"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "hello", Image: "classroom.local/hello:v1",
			ImagePullPolicy: corev1.PullNever}}}}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitReadyPods(ctx, t, client, "app=imported", 1)
}
