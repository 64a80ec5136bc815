package apiserver

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	constants "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/tools/remotecommand"
	clientspdy "k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream/spdy"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// streamIdleTimeout closes a WebSocket session idle this long (the kubelet's default).
const streamIdleTimeout = 4 * time.Hour

// streamOptions are the streams an exec or attach asked for.
type streamOptions struct {
	Stdin, Stdout, Stderr, TTY bool
}

// v5Translator serves a WebSocket v5.channel.k8s.io exec or attach (kubectl 1.30+) by
// running it as an SPDY client against the kubelet, as kube-apiserver's
// StreamTranslatorHandler does (k8s.io/apiserver/pkg/util/proxy, adapted here because that
// package needs a module svclab does not carry).
type v5Translator struct {
	loc       *url.URL
	transport http.RoundTripper
	opts      streamOptions
}

func (t *v5Translator) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	channels := make([]wsstream.ChannelType, 5)
	channels[constants.StreamStdIn] = channel(t.opts.Stdin, wsstream.ReadChannel)
	channels[constants.StreamStdOut] = channel(t.opts.Stdout, wsstream.WriteChannel)
	channels[constants.StreamStdErr] = channel(t.opts.Stderr, wsstream.WriteChannel)
	channels[constants.StreamErr] = wsstream.WriteChannel
	channels[constants.StreamResize] = wsstream.ReadChannel
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		constants.StreamProtocolV5Name: {Binary: true, Channels: channels},
	})
	conn.SetIdleTimeout(streamIdleTimeout)
	_, streams, err := conn.Open(w, req)
	if err != nil {
		return // Open answered the client
	}
	defer conn.Close()
	// An empty message on the lowest writable channel tells the client the session is up.
	switch {
	case t.opts.Stdout:
		_, err = streams[constants.StreamStdOut].Write(nil)
	case t.opts.Stderr:
		_, err = streams[constants.StreamStdErr].Write(nil)
	default:
		_, err = streams[constants.StreamErr].Write(nil)
	}
	if err != nil {
		return
	}
	writeStatus := func(st *apierrors.StatusError) {
		b, err := json.Marshal(st.Status())
		if err != nil {
			return
		}
		conn.SetWriteDeadline(10 * time.Second)
		_, _ = streams[constants.StreamErr].Write(b)
	}

	rt, err := spdy.NewRoundTripperWithConfig(spdy.RoundTripperConfig{UpgradeTransport: t.transport, PingPeriod: 5 * time.Second})
	if err != nil {
		writeStatus(apierrors.NewInternalError(err))
		return
	}
	executor, err := remotecommand.NewSPDYExecutorRejectRedirects(rt, clientspdy.NewUpgraderForStreaming(rt), http.MethodPost, t.loc)
	if err != nil {
		writeStatus(apierrors.NewInternalError(err))
		return
	}
	opts := remotecommand.StreamOptions{Tty: t.opts.TTY}
	if t.opts.Stdin {
		opts.Stdin = streams[constants.StreamStdIn]
	}
	if t.opts.Stdout {
		opts.Stdout = streams[constants.StreamStdOut]
	}
	if t.opts.Stderr {
		opts.Stderr = streams[constants.StreamStdErr]
	}
	if t.opts.TTY {
		sizes := make(chan remotecommand.TerminalSize)
		go resizeEvents(req, streams[constants.StreamResize], sizes)
		opts.TerminalSizeQueue = sizeQueue(sizes)
	}
	err = executor.StreamWithContext(req.Context(), opts)
	switch e := err.(type) {
	case nil:
		writeStatus(&apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusSuccess}})
	case *apierrors.StatusError:
		writeStatus(e)
	case exec.CodeExitError:
		writeStatus(exitStatus(e))
	default:
		writeStatus(apierrors.NewInternalError(err))
	}
}

func channel(on bool, kind wsstream.ChannelType) wsstream.ChannelType {
	if on {
		return kind
	}
	return wsstream.IgnoreChannel
}

// exitStatus is the v4/v5 error-channel status carrying a command's exit code.
func exitStatus(e exec.CodeExitError) *apierrors.StatusError {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure,
		Reason: constants.NonZeroExitCodeReason,
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{
			{Type: constants.ExitCodeCauseType, Message: fmt.Sprintf("%d", e.ExitStatus())},
		}},
		Message: fmt.Sprintf("command terminated with non-zero exit code: %v", e),
	}}
}

// resizeEvents decodes terminal sizes from the resize channel.
func resizeEvents(req *http.Request, r io.Reader, out chan<- remotecommand.TerminalSize) {
	defer close(out)
	dec := json.NewDecoder(r)
	for {
		var size remotecommand.TerminalSize
		if err := dec.Decode(&size); err != nil {
			return
		}
		select {
		case out <- size:
		case <-req.Context().Done():
			return
		}
	}
}

// sizeQueue feeds WebSocket resize events to the SPDY client.
type sizeQueue chan remotecommand.TerminalSize

func (q sizeQueue) Next() *remotecommand.TerminalSize {
	size, ok := <-q
	if !ok {
		return nil
	}
	return &size
}
