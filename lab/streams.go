package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// streamsSocket is where the kubelets' streaming API listens (kube-apiserver reaches the
// kubelet's :10250 for exec, attach and port-forward; here everything is one process, and a
// unix socket in the lab's private directory keeps other local users out).
func (l *Lab) streamsSocket() string {
	return filepath.Join(l.paths.Dir, "kubelet-streams.sock")
}

// serveStreams serves every kubelet's StreamingHandler on the lab's socket, choosing the
// kubelet by the request's host (the node name), and points the API server's pods/exec,
// pods/attach and pods/portforward at it. It stops with ctx. Errors are logged: without
// streams the lab still runs, and kubectl exec reports the missing kubelet.
func (l *Lab) serveStreams(ctx context.Context) {
	path := l.streamsSocket()
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		l.opts.Log.Error("kubectl exec, attach and port-forward are unavailable", "err", err)
		return
	}
	_ = os.Chmod(path, 0o600)
	handlers := map[string]http.Handler{}
	for name, k := range l.kubelets {
		handlers[name] = k.StreamingHandler()
	}
	srv := &http.Server{Handler: nodeRouter(handlers), ReadHeaderTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
		_ = os.Remove(path)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.opts.Log.Error("kubelet streaming server stopped", "err", err)
		}
	}()
	l.srv.SetKubeletStreams(func(_ context.Context, node string) (*url.URL, *http.Transport, error) {
		if handlers[node] == nil {
			return nil, nil, fmt.Errorf("node %q is not part of this lab", node)
		}
		return &url.URL{Scheme: "http", Host: node}, unixTransport(path), nil
	})
}

// nodeRouter sends a request to the kubelet named by its Host header.
func nodeRouter(handlers map[string]http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		h, ok := handlers[strings.ToLower(host)]
		if !ok {
			http.Error(w, fmt.Sprintf("node %q is not part of this lab", host), http.StatusNotFound)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// unixTransport dials the socket at path whatever the URL's host.
func unixTransport(path string) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}
}
