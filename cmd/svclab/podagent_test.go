package main

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

func TestPodAgentOptionsPrecedence(t *testing.T) {
	env := map[string]string{"HTTP_PORT": "80", "TCP_PORT": "7000", "SVCLAB_IMAGE_VERSION": "v2", "POD_NAME": "web-abc", "SHUTDOWN_DELAY": "2s"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name      string
		changed   map[string]bool
		flags     podAgentFlags
		wantHTTP  int
		wantTCP   int
		wantVer   string
		wantDelay time.Duration
	}{
		{name: "environment over defaults", flags: podAgentFlags{httpPort: 8080, tcpPort: 9000, version: "v1"},
			wantHTTP: 80, wantTCP: 7000, wantVer: "v2", wantDelay: 2 * time.Second},
		{name: "changed flags over environment", changed: map[string]bool{"http-port": true, "version-label": true, "shutdown-delay": true},
			flags:    podAgentFlags{httpPort: 8081, tcpPort: 9000, version: "v3", shutdownDelay: time.Second},
			wantHTTP: 8081, wantTCP: 7000, wantVer: "v3", wantDelay: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := podAgentOptions(log, &tt.flags, func(n string) bool { return tt.changed[n] }, lookup)
			if err != nil {
				t.Fatal(err)
			}
			if o.HTTPPort != tt.wantHTTP || o.TCPPort != tt.wantTCP || o.Identity.Version != tt.wantVer ||
				o.ShutdownDelay != tt.wantDelay || o.Identity.PodName != "web-abc" {
				t.Errorf("options = http %d tcp %d version %s delay %s pod %s", o.HTTPPort, o.TCPPort, o.Identity.Version, o.ShutdownDelay, o.Identity.PodName)
			}
		})
	}
}
