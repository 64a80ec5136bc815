package persistence

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const (
	testNS = "persistence"
	// cycles is how many times the server is killed and restarted; even cycles kill it
	// while writes are in flight, odd ones right after a lone acknowledged write.
	cycles = 4
	// createWriters write ConfigMaps concurrently; each stops after maxWritesPerWriter.
	createWriters      = 3
	maxWritesPerWriter = 400
	// killAfter is how many acknowledged writes a cycle waits for before SIGKILL, so the
	// kill lands while writes are in flight.
	killAfter = 60
)

// acked is what the server acknowledged before it was killed.
type acked struct {
	mu         sync.Mutex
	configMaps map[string]string // name -> resourceVersion
	services   map[string]string // name -> clusterIP
	counter    int               // last acknowledged value of the "counter" ConfigMap
	counterRV  string
	maxRV      uint64
	total      atomic.Int64
}

func (a *acked) noteRV(t *testing.T, rv string) {
	n := parseRV(t, rv)
	a.mu.Lock()
	defer a.mu.Unlock()
	if n > a.maxRV {
		a.maxRV = n
	}
}

// TestKillDashNine writes from several clients, SIGKILLs the server while writes are in
// flight, restarts it on the same data dir and checks that every acknowledged write
// survived, that resourceVersions only grow, and that no ClusterIP is handed out twice.
func TestKillDashNine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the svclab binary several times")
	}
	bin := svclabBinary(t)
	dataDir := t.TempDir()
	ack := &acked{configMaps: map[string]string{}, services: map[string]string{}}

	srv := startAPIServer(t, bin, dataDir)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if _, err := srv.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	counter, err := srv.client.CoreV1().ConfigMaps(testNS).Create(ctx, counterConfigMap(0), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ack.counterRV = counter.ResourceVersion

	for cycle := 0; cycle < cycles; cycle++ {
		before := ack.total.Load()
		writeCtx, stopWriters := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for w := 0; w < createWriters; w++ {
			wg.Add(1)
			go func() { defer wg.Done(); writeConfigMaps(writeCtx, t, srv.client, ack, cycle, w) }()
		}
		wg.Add(2)
		go func() { defer wg.Done(); updateCounter(writeCtx, t, srv.client, ack) }()
		go func() { defer wg.Done(); createServices(writeCtx, t, srv.client, ack, cycle) }()

		waitFor(t, 2*time.Minute, fmt.Sprintf("%d acknowledged writes", killAfter), func() bool {
			return ack.total.Load()-before >= killAfter
		})
		how := "while writes were in flight"
		if cycle%2 == 1 {
			// A lone write, then the kill right after its acknowledgement: nothing follows
			// that would make etcd persist a newer commit index.
			stopWriters()
			wg.Wait()
			how = "right after a lone acknowledged write"
			writeLone(ctx, t, srv.client, ack, fmt.Sprintf("lone-%d", cycle))
		}
		srv.kill()
		stopWriters()
		wg.Wait() // every writer stops at its first failed request
		t.Logf("cycle %d: killed pid %d %s, after %d acknowledged writes (max resourceVersion %d)",
			cycle, srv.cmd.Process.Pid, how, ack.total.Load()-before, ack.maxRV)

		srv = startAPIServer(t, bin, dataDir)
		verify(ctx, t, srv.client, ack)
	}
	assertNoDoubleAllocation(ctx, t, srv.client, ack)
}

// writeConfigMaps creates ConfigMaps until a request fails or the bound is reached.
func writeConfigMaps(ctx context.Context, t *testing.T, c kubernetes.Interface, ack *acked, cycle, writer int) {
	for i := 0; i < maxWritesPerWriter && ctx.Err() == nil; i++ {
		name := fmt.Sprintf("cm-%d-%d-%d", cycle, writer, i)
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS},
			Data:       map[string]string{"value": name},
		}
		created, err := c.CoreV1().ConfigMaps(testNS).Create(ctx, cm, metav1.CreateOptions{})
		if err != nil {
			return
		}
		ack.noteRV(t, created.ResourceVersion)
		ack.mu.Lock()
		ack.configMaps[name] = created.ResourceVersion
		ack.mu.Unlock()
		ack.total.Add(1)
	}
}

// writeLone creates one ConfigMap and records it once acknowledged.
func writeLone(ctx context.Context, t *testing.T, c kubernetes.Interface, ack *acked, name string) {
	t.Helper()
	created, err := c.CoreV1().ConfigMaps(testNS).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS},
		Data:       map[string]string{"value": name},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create ConfigMap %s: %v", name, err)
	}
	ack.noteRV(t, created.ResourceVersion)
	ack.mu.Lock()
	ack.configMaps[name] = created.ResourceVersion
	ack.mu.Unlock()
}

// updateCounter increments the "counter" ConfigMap; at most one update is in flight.
func updateCounter(ctx context.Context, t *testing.T, c kubernetes.Interface, ack *acked) {
	for i := 0; i < maxWritesPerWriter && ctx.Err() == nil; i++ {
		ack.mu.Lock()
		cm := counterConfigMap(ack.counter + 1)
		cm.ResourceVersion = ack.counterRV
		ack.mu.Unlock()
		updated, err := c.CoreV1().ConfigMaps(testNS).Update(ctx, cm, metav1.UpdateOptions{})
		if err != nil {
			return
		}
		ack.noteRV(t, updated.ResourceVersion)
		ack.mu.Lock()
		ack.counter++
		ack.counterRV = updated.ResourceVersion
		ack.mu.Unlock()
		ack.total.Add(1)
	}
}

// createServices creates ClusterIP Services, recording the allocated IPs.
func createServices(ctx context.Context, t *testing.T, c kubernetes.Interface, ack *acked, cycle int) {
	for i := 0; i < maxWritesPerWriter && ctx.Err() == nil; i++ {
		name := fmt.Sprintf("svc-%d-%d", cycle, i)
		created, err := c.CoreV1().Services(testNS).Create(ctx, newService(name), metav1.CreateOptions{})
		if err != nil {
			return
		}
		ack.noteRV(t, created.ResourceVersion)
		ack.mu.Lock()
		ack.services[name] = created.Spec.ClusterIP
		ack.mu.Unlock()
		ack.total.Add(1)
	}
}

// verify checks, after a restart, that every acknowledged write is there and that new
// writes get larger resourceVersions than anything acknowledged before.
func verify(ctx context.Context, t *testing.T, c kubernetes.Interface, ack *acked) {
	t.Helper()
	ack.mu.Lock()
	defer ack.mu.Unlock()
	cms, err := c.CoreV1().ConfigMaps(testNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if listRV := parseRV(t, cms.ResourceVersion); listRV < ack.maxRV {
		t.Errorf("list resourceVersion after restart is %d, below the acknowledged %d", listRV, ack.maxRV)
	}
	stored := map[string]corev1.ConfigMap{}
	for _, cm := range cms.Items {
		stored[cm.Name] = cm
	}
	lost := 0
	for name, rv := range ack.configMaps {
		cm, ok := stored[name]
		switch {
		case !ok:
			lost++
			if lost <= 10 {
				t.Errorf("acknowledged ConfigMap %s (resourceVersion %s) is gone after kill -9", name, rv)
			}
		case cm.ResourceVersion != rv || cm.Data["value"] != name:
			t.Errorf("ConfigMap %s: resourceVersion %s data %v after restart, acknowledged %s", name, cm.ResourceVersion, cm.Data, rv)
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged ConfigMaps lost", lost, len(ack.configMaps))
	}

	// The counter holds the last acknowledged value, or the one update that was in flight.
	counter, ok := stored["counter"]
	if !ok {
		t.Fatal("ConfigMap counter is gone after kill -9")
	}
	got, err := strconv.Atoi(counter.Data["n"])
	if err != nil {
		t.Fatalf("counter holds %q: %v", counter.Data["n"], err)
	}
	switch {
	case got == ack.counter && counter.ResourceVersion != ack.counterRV:
		t.Errorf("counter=%d has resourceVersion %s, acknowledged %s", got, counter.ResourceVersion, ack.counterRV)
	case got != ack.counter && got != ack.counter+1:
		t.Errorf("counter=%d after restart, last acknowledged %d (at most one update was in flight)", got, ack.counter)
	}
	ack.counter, ack.counterRV = got, counter.ResourceVersion

	svcs, err := c.CoreV1().Services(testNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	storedIPs := map[string]string{}
	for _, s := range svcs.Items {
		storedIPs[s.Name] = s.Spec.ClusterIP
	}
	for name, ip := range ack.services {
		if storedIPs[name] != ip {
			t.Errorf("acknowledged Service %s had ClusterIP %s; after restart: %q", name, ip, storedIPs[name])
		}
	}
	// Unacknowledged creates may have landed: adopt them, their IPs count as allocated too.
	for name, ip := range storedIPs {
		ack.services[name] = ip
	}

	// A write after the restart must get a resourceVersion above every acknowledged one.
	probeName := fmt.Sprintf("probe-after-%d", ack.maxRV)
	probe, err := c.CoreV1().ConfigMaps(testNS).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: probeName, Namespace: testNS},
		Data:       map[string]string{"value": probeName},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rv := parseRV(t, probe.ResourceVersion); rv <= ack.maxRV {
		t.Errorf("first write after restart got resourceVersion %d, not above the acknowledged %d", rv, ack.maxRV)
	} else {
		ack.maxRV = rv
	}
	ack.configMaps[probe.Name] = probe.ResourceVersion
	t.Logf("after restart: %d ConfigMaps, %d Services, counter=%d, all acknowledged writes present", len(cms.Items), len(svcs.Items), got)
}

// assertNoDoubleAllocation creates more Services after the restarts and checks that every
// ClusterIP in the namespace is distinct.
func assertNoDoubleAllocation(ctx context.Context, t *testing.T, c kubernetes.Interface, ack *acked) {
	t.Helper()
	for i := 0; i < 20; i++ {
		created, err := c.CoreV1().Services(testNS).Create(ctx, newService(fmt.Sprintf("after-%d", i)), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ack.services[created.Name] = created.Spec.ClusterIP
	}
	owner := map[string]string{}
	for name, ip := range ack.services {
		if prev, ok := owner[ip]; ok {
			t.Errorf("ClusterIP %s is held by both %s and %s", ip, prev, name)
		}
		owner[ip] = name
	}
}

func counterConfigMap(n int) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "counter", Namespace: testNS},
		Data:       map[string]string{"n": strconv.Itoa(n)},
	}
}

func newService(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
}

// parseRV reads a resourceVersion as the etcd revision it is. Clients must treat them as
// opaque; this test checks the server's own promise that they only grow.
func parseRV(t *testing.T, rv string) uint64 {
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		t.Errorf("resourceVersion %q is not an etcd revision: %v", rv, err)
	}
	return n
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
