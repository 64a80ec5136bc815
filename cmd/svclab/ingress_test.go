package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestIngressCmdFlags(t *testing.T) {
	cmd := newIngressCmd()
	for flag, def := range map[string]string{"http": ":80", "https": ":443", "metrics-bind-address": ":10254", "ingress-class": "svclab", "publish-service": "", "kubeconfig": ""} {
		f := cmd.Flags().Lookup(flag)
		if f == nil || f.DefValue != def {
			t.Errorf("--%s: %+v, want default %q", flag, f, def)
		}
	}
}

func TestRunIngressBadPublishService(t *testing.T) {
	err := runIngress(context.Background(), slog.New(slog.DiscardHandler), &ingressFlags{publishService: "noslash"})
	if err == nil || !strings.Contains(err.Error(), "want namespace/name") {
		t.Errorf("err %v", err)
	}
}
