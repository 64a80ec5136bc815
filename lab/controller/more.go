package controller

import (
	"context"
	"log/slog"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
)

func addMore(ctx context.Context, cfg *restclient.Config, client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger, add func(string, runner, error) error) error {
	return nil
}
