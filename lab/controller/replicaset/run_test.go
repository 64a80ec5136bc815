package replicaset

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"

	"github.com/svclab/svclab/lab/controller/controllerutil/controllertest"
)

// TestRunWithInformers drives the controller through real informers and its workqueue.
func TestRunWithInformers(t *testing.T) {
	client := controllertest.NewClient()
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(client, factory, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { c.Run(ctx, 2); close(done) }()
	factory.Start(ctx.Done())
	defer func() { cancel(); <-done; factory.Shutdown() }()

	if _, err := client.AppsV1().ReplicaSets(ns).Create(ctx, newRS("web", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		rs, err := client.AppsV1().ReplicaSets(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return rs.Status.Replicas == 3 && len(controllertest.ListPods(t, client, ns)) == 3, nil
	})
	if err != nil {
		t.Fatalf("replica set did not reach 3 pods: %v (pods %d)", err, len(controllertest.ListPods(t, client, ns)))
	}
	// Stay stable: no over-creation once expectations are met.
	time.Sleep(300 * time.Millisecond)
	if n := len(controllertest.ListPods(t, client, ns)); n != 3 {
		t.Fatalf("got %d pods after settling, want 3", n)
	}
}
