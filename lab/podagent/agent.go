package podagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// Run serves HTTP, TCP echo and UDP echo until ctx is done (the binary cancels it on SIGTERM),
// then shuts down gracefully: readiness fails at once, the agent keeps serving for
// ShutdownDelay, stops accepting, lets in-flight requests finish within ShutdownGrace and
// returns nil. It returns an error only when it cannot start.
func Run(ctx context.Context, opts Options) error {
	if err := opts.validate(); err != nil {
		return err
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	out := opts.AccessLog
	if out == nil {
		out = os.Stdout
	}
	id := opts.Identity.withFallbacks()
	alog := &accessLogger{out: out, now: time.Now}
	state := NewState(opts.Ready, opts.LivenessFailFile)

	lns, err := listen(opts)
	if err != nil {
		return err
	}
	addrs := Addrs{HTTP: lns.HTTP.Addr().String()}
	srv := &http.Server{
		Handler:           alog.wrap(NewHandler(id, state)),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	var wg sync.WaitGroup
	httpErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(lns.HTTP); err != nil && !errors.Is(err, http.ErrServerClosed) {
			httpErr <- fmt.Errorf("serve http: %w", err)
		}
	}()
	var tcp *tcpEcho
	if lns.TCP != nil {
		addrs.TCP = lns.TCP.Addr().String()
		tcp = newTCPEcho(id, lns.TCP, log, alog)
		wg.Add(1)
		go func() { defer wg.Done(); tcp.serve() }()
	}
	if lns.UDP != nil {
		addrs.UDP = lns.UDP.LocalAddr().String()
		wg.Add(1)
		go func() { defer wg.Done(); serveUDP(id, lns.UDP, log, alog) }()
	}
	log.Debug("pod agent serving", "pod", id.PodName, "namespace", id.Namespace, "ip", id.PodIP,
		"node", id.NodeName, "version", id.Version, "http", addrs.HTTP, "tcp", addrs.TCP, "udp", addrs.UDP,
		"ready", opts.Ready)
	alog.printf("pod agent started: pod=%s ns=%s ip=%s node=%s version=%s http=%s tcp=%s udp=%s ready=%t",
		id.PodName, id.Namespace, id.PodIP, id.NodeName, id.Version, orOff(addrs.HTTP), orOff(addrs.TCP), orOff(addrs.UDP), opts.Ready)
	if opts.Started != nil {
		opts.Started(addrs)
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-httpErr:
	}
	state.SetTerminating()
	if runErr == nil && opts.ShutdownDelay > 0 {
		log.Debug("stop requested: not ready, still serving during the shutdown delay", "delay", opts.ShutdownDelay)
		alog.printf("stop requested: readiness now fails; serving for %s more", opts.ShutdownDelay)
		time.Sleep(opts.ShutdownDelay)
	}
	alog.printf("shutting down: no new connections, finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownGrace)
	defer cancel()
	var swg sync.WaitGroup
	swg.Add(1)
	go func() {
		defer swg.Done()
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("http requests still running at the end of the grace period; closing them", "err", err)
			_ = srv.Close()
		}
	}()
	if tcp != nil {
		swg.Add(1)
		go func() { defer swg.Done(); tcp.shutdown(sctx) }()
	}
	if lns.UDP != nil {
		_ = lns.UDP.Close()
	}
	swg.Wait()
	wg.Wait()
	alog.printf("pod agent stopped")
	return runErr
}

func orOff(addr string) string {
	if addr == "" {
		return "off"
	}
	return addr
}

// listen returns the pre-opened listeners from opts, opening the configured ports for the rest.
func listen(opts Options) (Listeners, error) {
	var l Listeners
	if opts.Listeners != nil {
		l = *opts.Listeners
	}
	closeAll := func() {
		for _, c := range []io.Closer{l.HTTP, l.TCP, l.UDP} {
			if c != nil {
				_ = c.Close()
			}
		}
	}
	var err error
	if l.HTTP == nil {
		if l.HTTP, err = net.Listen("tcp", net.JoinHostPort(opts.ListenHost, strconv.Itoa(opts.HTTPPort))); err != nil {
			closeAll()
			return l, fmt.Errorf("listen on HTTP port %d: %w", opts.HTTPPort, err)
		}
	}
	if l.TCP == nil && opts.TCPPort > 0 {
		if l.TCP, err = net.Listen("tcp", net.JoinHostPort(opts.ListenHost, strconv.Itoa(opts.TCPPort))); err != nil {
			closeAll()
			return l, fmt.Errorf("listen on TCP echo port %d: %w", opts.TCPPort, err)
		}
	}
	if l.UDP == nil && opts.UDPPort > 0 {
		if l.UDP, err = net.ListenPacket("udp", net.JoinHostPort(opts.ListenHost, strconv.Itoa(opts.UDPPort))); err != nil {
			closeAll()
			return l, fmt.Errorf("listen on UDP echo port %d: %w", opts.UDPPort, err)
		}
	}
	return l, nil
}
