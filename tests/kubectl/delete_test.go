package kubectl_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDelete: kubectl delete returns once the object is gone, waits for finalizers, and
// garbage collection removes what a Deployment owned.
func TestDelete(t *testing.T) {
	t.Parallel()
	forEachVersion(t, func(t *testing.T, k *kubectl, i int) {
		nodePort := fmt.Sprint(30012 + 10*i)
		k.ok("create", "service", "nodeport", "np", "--tcp=80", "--node-port="+nodePort)
		wantText(t, k.ok("delete", "service", "np"), `service "np" deleted`+"\n")
		wantText(t, k.fails("get", "service", "np"), `Error from server (NotFound): services "np" not found`+"\n")
		// The node port was released with the Service.
		wantText(t, k.ok("create", "service", "nodeport", "np", "--tcp=80", "--node-port="+nodePort), "service/np created\n")

		// A finalizer holds the object: delete --wait=false returns at once, a waiting delete
		// returns only once the finalizer is removed.
		k.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\n")
		wantText(t, k.ok("delete", "configmap", "held", "--wait=false"), `configmap "held" deleted`+"\n")
		wantText(t, k.ok("get", "configmap", "held", "-o", "jsonpath={.metadata.finalizers} {.metadata.deletionTimestamp}"),
			`["example.com/hold"] `+k.ok("get", "configmap", "held", "-o", "jsonpath={.metadata.deletionTimestamp}"))
		waiting := make(chan result, 1)
		go func() { waiting <- k.run("delete", "configmap", "held", "--timeout=50s") }()
		// Let the waiting delete get to its watch: it lists the object first.
		select {
		case r := <-waiting:
			t.Fatalf("delete returned while the finalizer still holds the object:\n%s", r)
		case <-time.After(time.Second):
		}
		wantText(t, k.ok("patch", "configmap", "held", "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`),
			"configmap/held patched\n")
		select {
		case r := <-waiting:
			if r.code != 0 || r.stdout != `configmap "held" deleted`+"\n" || r.stderr != "" {
				t.Errorf("waiting delete:\n%s", r)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("delete still waits 30s after the finalizer was removed")
		}
		wantText(t, k.fails("get", "configmap", "held"), `Error from server (NotFound): configmaps "held" not found`+"\n")

		// Garbage collection: deleting a Deployment removes its ReplicaSets and pods.
		k.ok("create", "deployment", "web", "--image=registry.k8s.io/pause:3.10", "--replicas=2")
		eventually(t, 30*time.Second, func() error {
			if out := k.ok("get", "pods", "-l", "app=web", "-o", "name"); len(out) == 0 {
				return fmt.Errorf("no pods for deployment web yet")
			}
			return nil
		})
		wantText(t, k.ok("delete", "deployment", "web"), `deployment.apps "web" deleted`+"\n")
		eventually(t, 30*time.Second, func() error {
			r := k.run("get", "replicasets,pods")
			if r.code != 0 || r.stdout != "" || r.stderr != "No resources found in "+k.ns+" namespace.\n" {
				return fmt.Errorf("replica sets or pods left after deleting their deployment:\n%s", r)
			}
			return nil
		})
		wantText(t, k.fails("delete", "deployment", "web"), `Error from server (NotFound): deployments.apps "web" not found`+"\n")
	})
}

// TestDeleteNamespace: deleting a namespace removes everything in it and then the namespace.
// It needs the namespace controller; without one the namespace stays Terminating.
func TestDeleteNamespace(t *testing.T) {
	t.Parallel()
	requireNamespaceController(t)
	forEachVersion(t, func(t *testing.T, k *kubectl, _ int) {
		k.ok("create", "deployment", "web", "--image=registry.k8s.io/pause:3.10")
		k.ok("expose", "deployment", "web", "--port=80", "--type=NodePort")
		k.ok("create", "configmap", "cfg", "--from-literal=a=1")
		ns := k.ns
		k.ns = ""
		wantText(t, k.ok("delete", "namespace", ns, "--timeout=50s"), `namespace "`+ns+`" deleted`+"\n")
		wantText(t, k.fails("get", "namespace", ns), `Error from server (NotFound): namespaces "`+ns+`" not found`+"\n")
	})
}

// requireNamespaceController skips the test, saying why, when namespaces are not finalized:
// a namespace deleted through the API must be gone within 30s.
func requireNamespaceController(t *testing.T) {
	t.Helper()
	ns := newNamespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 35*time.Second)
	defer cancel()
	if err := srv.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete namespace %s: %v", ns, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_, err := srv.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Skipf("the namespace controller is not running: namespace %s is still there 30s after its deletion", ns)
}
