package controller

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"

	"github.com/svclab/svclab/lab/controller/serviceaccount"
)

// runner is what every controller package's Controller provides.
type runner interface {
	Run(ctx context.Context, workers int)
}

// Run starts every node-less controller against the API server at cfg and blocks until ctx
// is done.
func Run(ctx context.Context, cfg *restclient.Config, log *slog.Logger) error {
	cfg = restclient.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 200, 400
	cfg.UserAgent = "svclab-controller-manager"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("controller client: %w", err)
	}
	factory := informers.NewSharedInformerFactory(client, 10*time.Hour)
	var runners []runner
	addController := func(name string, r runner, err error) error {
		if err != nil {
			return fmt.Errorf("start %s controller: %w", name, err)
		}
		runners = append(runners, r)
		return nil
	}
	sa, err := serviceaccount.New(client, factory, log.With("controller", "serviceaccount"))
	if err := addController("serviceaccount", sa, err); err != nil {
		return err
	}
	if err := addMore(ctx, cfg, client, factory, log, addController); err != nil {
		return err
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
