package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func testPod(name, node, ip string, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
}

func seedTopology(t *testing.T, env *testEnv) {
	ctx := context.Background()
	c := env.client
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "lab-worker"},
		Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24"},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.30.0.12"}},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.20",
			Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http"), NodePort: 30080}}}}
	ready := true
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-abc",
		Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.1.5"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-1"}}}}
	if _, err := c.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Pods("default").Create(ctx, testPod("web-1", "lab-worker", "10.244.1.5", true), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DiscoveryV1().EndpointSlices("default").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestTopologyAPI(t *testing.T) {
	env := newTestEnv(t)
	seedTopology(t, env)
	var topo Topology
	deadline := time.Now().Add(10 * time.Second)
	for {
		w := env.do("GET", "/api/topology", true)
		wantStatus(t, w, http.StatusOK)
		topo = Topology{}
		if err := json.Unmarshal(w.Body.Bytes(), &topo); err != nil {
			t.Fatal(err)
		}
		if len(topo.Services) == 1 && len(topo.Services[0].Endpoints) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	got, _ := json.Marshal(topo)
	want := `{"nodes":[{"name":"lab-worker","ips":["172.30.0.12"],"ready":true,"podCIDR":"10.244.1.0/24"}],` +
		`"pods":[{"namespace":"default","name":"web-1","ip":"10.244.1.5","node":"lab-worker","ready":true,"phase":"Running"}],` +
		`"services":[{"namespace":"default","name":"web","type":"NodePort","clusterIP":"10.96.0.20","externalIPs":[],` +
		`"ports":[{"protocol":"TCP","port":80,"targetPort":"http","nodePort":30080}],` +
		`"endpoints":[{"ip":"10.244.1.5","ready":true,"pod":"default/web-1","node":"lab-worker"}]}]}`
	if string(got) != want {
		t.Errorf("topology:\n%s\nwant:\n%s", got, want)
	}
}

func TestTopologyEventsFollowChanges(t *testing.T) {
	env := newTestEnv(t)
	seedTopology(t, env)
	ts := httptest.NewServer(env.srv.Handler())
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/topology/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	// next returns the next snapshot.
	next := func() Topology {
		t.Helper()
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var topo Topology
				if err := json.Unmarshal([]byte(data), &topo); err != nil {
					t.Fatal(err)
				}
				return topo
			}
		}
		t.Fatalf("event stream ended: %v", sc.Err())
		return Topology{}
	}
	hasPod := func(topo Topology, name string) bool {
		for _, p := range topo.Pods {
			if p.Name == name {
				return true
			}
		}
		return false
	}
	for topo := next(); !hasPod(topo, "web-1"); topo = next() {
	}
	if _, err := env.client.CoreV1().Pods("default").Create(ctx, testPod("client", "lab-worker", "10.244.1.9", false), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for topo := next(); !hasPod(topo, "client"); topo = next() {
	}
}
