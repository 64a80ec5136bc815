package controller

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	restclient "k8s.io/client-go/rest"

	"github.com/svclab/svclab/lab/controller/daemonset"
	"github.com/svclab/svclab/lab/controller/deployment"
	"github.com/svclab/svclab/lab/controller/endpoints"
	"github.com/svclab/svclab/lab/controller/endpointslice"
	"github.com/svclab/svclab/lab/controller/endpointslicemirroring"
	"github.com/svclab/svclab/lab/controller/garbagecollector"
	"github.com/svclab/svclab/lab/controller/namespace"
	"github.com/svclab/svclab/lab/controller/replicaset"
	"github.com/svclab/svclab/lab/controller/serviceaccount"
)

// runner is what every controller package's Controller provides.
type runner interface {
	Run(ctx context.Context, workers int)
}

// Options tunes Run.
type Options struct {
	// RootCA, when set, is published as the kube-root-ca.crt ConfigMap in every namespace.
	RootCA []byte
}

// Run starts kube-controller-manager's node-less controllers against the API server at cfg
// and blocks until ctx is done.
func Run(ctx context.Context, cfg *restclient.Config, log *slog.Logger, opts Options) error {
	cfg = restclient.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 200, 400
	cfg.UserAgent = "svclab-controller-manager"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("controller client: %w", err)
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("controller metadata client: %w", err)
	}
	factory := informers.NewSharedInformerFactory(client, 10*time.Hour)
	scoped := func(name string) *slog.Logger { return log.With("controller", name) }
	controllers := []struct {
		name  string
		build func() (runner, error)
	}{
		{"deployment", func() (runner, error) { return deployment.New(client, factory, scoped("deployment")) }},
		{"replicaset", func() (runner, error) { return replicaset.New(client, factory, scoped("replicaset")) }},
		{"daemonset", func() (runner, error) { return daemonset.New(client, factory, scoped("daemonset")) }},
		{"endpoints", func() (runner, error) { return endpoints.New(client, factory, scoped("endpoints")) }},
		{"endpointslice", func() (runner, error) { return endpointslice.New(client, factory, scoped("endpointslice")) }},
		{"endpointslicemirroring", func() (runner, error) {
			return endpointslicemirroring.New(client, factory, scoped("endpointslicemirroring"))
		}},
		{"namespace", func() (runner, error) { return namespace.New(client, factory, scoped("namespace"), meta) }},
		{"garbagecollector", func() (runner, error) {
			return garbagecollector.New(client, factory, scoped("garbagecollector"), meta)
		}},
		{"serviceaccount", func() (runner, error) {
			return serviceaccount.New(client, factory, scoped("serviceaccount"), serviceaccount.WithRootCA(opts.RootCA))
		}},
	}
	var runners []runner
	for _, c := range controllers {
		r, err := c.build()
		if err != nil {
			return fmt.Errorf("start %s controller: %w", c.name, err)
		}
		runners = append(runners, r)
	}
	factory.Start(ctx.Done())
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Run(ctx, 2)
		}()
	}
	wg.Wait()
	factory.Shutdown()
	return nil
}
