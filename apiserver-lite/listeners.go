package apiserver

import (
	"errors"
	"fmt"
	"net"
	"sync"
)

// multiListener accepts on several listeners at once: the lab's API server listens on
// 127.0.0.1 for the host and on the node network's gateway address for pods.
type multiListener struct {
	listeners []net.Listener
	conns     chan net.Conn
	errs      chan error
	closeOnce sync.Once
	closed    chan struct{}
}

func newMultiListener(ls ...net.Listener) net.Listener {
	if len(ls) == 1 {
		return ls[0]
	}
	m := &multiListener{listeners: ls, conns: make(chan net.Conn), errs: make(chan error, len(ls)), closed: make(chan struct{})}
	for _, l := range ls {
		go m.serve(l)
	}
	return m
}

func (m *multiListener) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			select {
			case m.errs <- err:
			case <-m.closed:
			}
			return
		}
		select {
		case m.conns <- c:
		case <-m.closed:
			c.Close()
			return
		}
	}
}

func (m *multiListener) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case err := <-m.errs:
		return nil, err
	case <-m.closed:
		return nil, net.ErrClosed
	}
}

func (m *multiListener) Close() error {
	var errs []error
	m.closeOnce.Do(func() {
		close(m.closed)
		for _, l := range m.listeners {
			errs = append(errs, l.Close())
		}
	})
	return errors.Join(errs...)
}

// Addr is the first listener's address (the one the kubeconfig names).
func (m *multiListener) Addr() net.Addr { return m.listeners[0].Addr() }

// listenAll binds the main address and the extra hosts on the same port.
func listenAll(main string, extraHosts []string) (net.Listener, error) {
	ln, err := net.Listen("tcp", main)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (is another API server or lab running? pick another port)", main, err)
	}
	all := []net.Listener{ln}
	port := ln.Addr().(*net.TCPAddr).Port
	for _, h := range extraHosts {
		addr := net.JoinHostPort(h, fmt.Sprint(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range all {
				l.Close()
			}
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		all = append(all, l)
	}
	return newMultiListener(all...), nil
}
