package podagent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an io.Writer safe for the agent's goroutines and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type running struct {
	addrs  Addrs
	cancel context.CancelFunc
	done   chan error
	out    *syncBuffer
}

// start runs the agent on loopback ephemeral ports and stops it at the end of the test.
func start(t *testing.T, mod func(*Options)) *running {
	t.Helper()
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &running{done: make(chan error, 1), out: &syncBuffer{}}
	started := make(chan Addrs, 1)
	opts := DefaultOptions()
	opts.Identity = testID
	opts.ShutdownGrace = 5 * time.Second
	opts.AccessLog = r.out
	opts.Listeners = &Listeners{HTTP: httpLn, TCP: tcpLn, UDP: udp}
	opts.Started = func(a Addrs) { started <- a }
	if mod != nil {
		mod(&opts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- Run(ctx, opts) }()
	select {
	case r.addrs = <-started:
	case err := <-r.done:
		t.Fatalf("Run returned before serving: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not start")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("agent did not stop")
		}
	})
	return r
}

func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // let Cleanup see it too
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop within 10s")
		return nil
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRunServesHTTPAndLogs(t *testing.T) {
	r := start(t, nil)
	code, body := get(t, "http://"+r.addrs.HTTP+"/")
	if code != 200 || !strings.HasPrefix(body, "pod=web-abc ns=default ip=10.244.1.5 node=svclab-worker version=v1 client=127.0.0.1:") {
		t.Errorf("GET / = %d %q", code, body)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v, want nil after a stop", err)
	}
	out := r.out.String()
	for _, want := range []string{"pod agent started: pod=web-abc", `"GET / HTTP/1.1" 200`, "pod agent stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTCPEcho(t *testing.T) {
	r := start(t, nil)
	c, err := net.DialTimeout("tcp", r.addrs.TCP, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for _, msg := range []string{"hello", "second line"} {
		fmt.Fprintf(c, "%s\r\n", msg)
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read reply to %q: %v", msg, err)
		}
		want := fmt.Sprintf("pod=web-abc ns=default ip=10.244.1.5 node=svclab-worker version=v1 client=%s echo=%s\n", c.LocalAddr(), msg)
		if line != want {
			t.Errorf("reply = %q, want %q", line, want)
		}
	}
}

func TestUDPEcho(t *testing.T) {
	r := start(t, nil)
	c, err := net.Dial("udp", r.addrs.UDP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1024)
	// UDP may drop a datagram even on loopback; retry a bounded number of times.
	for i := 0; i < 5; i++ {
		fmt.Fprint(c, "hello\n")
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		if err != nil {
			continue
		}
		want := fmt.Sprintf("pod=web-abc ns=default ip=10.244.1.5 node=svclab-worker version=v1 client=%s echo=hello\n", c.LocalAddr())
		if got := string(buf[:n]); got != want {
			t.Errorf("reply = %q, want %q", got, want)
		}
		return
	}
	t.Fatal("no UDP reply after 5 tries")
}

func TestDisabledEchoPorts(t *testing.T) {
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.TCPPort, opts.UDPPort = 0, 0
	opts.AccessLog = io.Discard
	opts.Listeners = &Listeners{HTTP: httpLn}
	got := make(chan Addrs, 1)
	opts.Started = func(a Addrs) { got <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, opts) }()
	a := <-got
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if a.TCP != "" || a.UDP != "" || a.HTTP == "" {
		t.Errorf("addrs = %+v, want HTTP only", a)
	}
}

// TestGracefulShutdown stops the agent while a request is in flight: the request finishes,
// new connections are refused and Run returns nil.
func TestGracefulShutdown(t *testing.T) {
	r := start(t, nil)
	type result struct {
		code int
		body string
		err  error
	}
	connected := make(chan struct{})
	var once sync.Once
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			once.Do(func() { close(connected) })
			return c, err
		},
	}}
	inflight := make(chan result, 1)
	go func() {
		resp, err := client.Get("http://" + r.addrs.HTTP + "/sleep?d=300ms")
		if err != nil {
			inflight <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		inflight <- result{resp.StatusCode, string(b), err}
	}()
	<-connected
	time.Sleep(50 * time.Millisecond) // let the server read the request
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	res := <-inflight
	if res.err != nil || res.code != 200 || !strings.Contains(res.body, "slept=300ms") {
		t.Errorf("in-flight request = %d %q %v, want it to finish", res.code, res.body, res.err)
	}
	if _, err := net.DialTimeout("tcp", r.addrs.HTTP, time.Second); err == nil {
		t.Error("HTTP port still accepts connections after shutdown")
	}
}

// TestShutdownDelay shows the terminating-endpoint window: after the stop, readiness fails but
// requests are still answered until the delay is over.
func TestShutdownDelay(t *testing.T) {
	r := start(t, func(o *Options) { o.ShutdownDelay = 400 * time.Millisecond })
	if code, _ := get(t, "http://"+r.addrs.HTTP+"/readyz"); code != 200 {
		t.Fatalf("readyz before stop = %d", code)
	}
	r.cancel()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(r.out.String(), "stop requested") {
		if time.Now().After(deadline) {
			t.Fatal("agent did not log the stop request")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, body := get(t, "http://"+r.addrs.HTTP+"/readyz"); code != 503 || body != "shutting down\n" {
		t.Errorf("readyz during delay = %d %q, want 503 shutting down", code, body)
	}
	if code, _ := get(t, "http://"+r.addrs.HTTP+"/"); code != 200 {
		t.Errorf("GET / during delay = %d, want 200", code)
	}
	select {
	case err := <-r.done:
		r.done <- err
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop after the delay")
	}
}

func TestRunRefusesBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	opts := DefaultOptions()
	opts.ListenHost = "127.0.0.1"
	opts.HTTPPort = ln.Addr().(*net.TCPAddr).Port
	opts.TCPPort, opts.UDPPort = 0, 0
	err = Run(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "listen on HTTP port") {
		t.Errorf("Run on a busy port = %v, want a listen error", err)
	}
}

func TestOptionsFromEnv(t *testing.T) {
	env := map[string]string{
		"HTTP_PORT": "80", "UDP_PORT": "0", "POD_NAME": "web-abc", "POD_NAMESPACE": "shop",
		"POD_IP": "10.244.1.5", "NODE_NAME": "svclab-worker", "SVCLAB_IMAGE_VERSION": "v2", "SHUTDOWN_DELAY": "3s",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	o, err := OptionsFromEnv(lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{PodName: "web-abc", Namespace: "shop", PodIP: "10.244.1.5", NodeName: "svclab-worker", Version: "v2"}
	if o.HTTPPort != 80 || o.TCPPort != DefaultTCPPort || o.UDPPort != 0 || o.Identity != want || o.ShutdownDelay != 3*time.Second || !o.Ready {
		t.Errorf("options = %+v", o)
	}
	env["HTTP_PORT"] = "http"
	if _, err := OptionsFromEnv(lookup); err == nil || !strings.Contains(err.Error(), "HTTP_PORT") {
		t.Errorf("bad HTTP_PORT: err = %v", err)
	}
	o, err = OptionsFromEnv(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if o.HTTPPort != DefaultHTTPPort || o.Identity.Version != DefaultVersion || o.Identity.PodName == "" || o.Identity.NodeName != "unknown" {
		t.Errorf("defaults = %+v", o)
	}
}

// TestShutdownClosesIdleTCPEcho checks that an idle echo connection does not hold shutdown
// for the whole grace period: it is closed as soon as the agent stops.
func TestShutdownClosesIdleTCPEcho(t *testing.T) {
	r := start(t, func(o *Options) { o.ShutdownGrace = time.Minute })
	c, err := net.DialTimeout("tcp", r.addrs.TCP, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, "ping\n")
	br := bufio.NewReader(c)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatalf("first reply: %v", err)
	}
	if err := r.stop(t); err != nil { // fails the test if it takes 10s, far below the 1m grace
		t.Fatal(err)
	}
	if _, err := br.ReadString('\n'); err != io.EOF {
		t.Errorf("read after shutdown = %v, want EOF", err)
	}
}
