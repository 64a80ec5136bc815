package kubelet

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func (h *harness) logs(opts *corev1.PodLogOptions) (string, error) {
	var b bytes.Buffer
	err := h.k.Logs(h.ctx, "default", "logs", opts, &b)
	return b.String(), err
}

func TestLogs(t *testing.T) {
	h := newHarness(t)
	w := h.start(testPod("logs"))
	h.sync(w)
	if err := h.rt.WriteLog("app", "one\ntwo\nthree\n"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts *corev1.PodLogOptions
		want string
	}{
		{"all", &corev1.PodLogOptions{}, "one\ntwo\nthree\n"},
		{"tail 2", &corev1.PodLogOptions{TailLines: ptr.To[int64](2)}, "two\nthree\n"},
		{"tail 10", &corev1.PodLogOptions{TailLines: ptr.To[int64](10)}, "one\ntwo\nthree\n"},
		{"tail 0", &corev1.PodLogOptions{TailLines: ptr.To[int64](0)}, ""},
		{"limit", &corev1.PodLogOptions{LimitBytes: ptr.To[int64](6)}, "one\ntw"},
		{"timestamps", &corev1.PodLogOptions{Timestamps: true, TailLines: ptr.To[int64](1)}, "2026-03-01T10:00:00Z three\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.logs(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("logs = %q, want %q", got, tc.want)
			}
		})
	}

	// --since keeps lines that appeared within the window.
	h.clock.Step(10 * time.Minute)
	if err := h.rt.WriteLog("app", "late\n"); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.logs(&corev1.PodLogOptions{SinceSeconds: ptr.To[int64](60)}); got != "late\n" {
		t.Errorf("since 60s = %q", got)
	}

	// --previous before any restart, then after one.
	if _, err := h.logs(&corev1.PodLogOptions{Previous: true}); err == nil ||
		err.Error() != `previous terminated container "app" in pod "logs" not found` {
		t.Errorf("previous without restart: %v", err)
	}
	if err := h.rt.Exit("app", 1); err != nil {
		t.Fatal(err)
	}
	h.step(w, time.Second)
	if err := h.rt.WriteLog("app", "second life\n"); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.logs(&corev1.PodLogOptions{Previous: true}); got != "one\ntwo\nthree\nlate\n" {
		t.Errorf("previous = %q", got)
	}
	if got, _ := h.logs(&corev1.PodLogOptions{}); got != "second life\n" {
		t.Errorf("current = %q", got)
	}
	// Only the previous attempt's log is kept.
	for range 2 {
		if err := h.rt.Exit("app", 1); err != nil {
			t.Fatal(err)
		}
		h.step(w, time.Second)
		h.step(w, 5*time.Minute)
	}
	if got := h.k.logAttempts(h.pod("logs"), "app"); len(got) != 2 {
		t.Errorf("log files kept = %v, want 2", got)
	}
}

func TestLogsFollow(t *testing.T) {
	h := newHarness(t)
	w := h.start(testPod("logs"))
	h.sync(w)
	if err := h.rt.WriteLog("app", "start\n"); err != nil {
		t.Fatal(err)
	}
	var (
		out  syncBuffer
		done = make(chan error, 1)
	)
	go func() { done <- h.k.Logs(h.ctx, "default", "logs", &corev1.PodLogOptions{Follow: true}, &out) }()
	if err := h.rt.WriteLog("app", "more\npartial"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "more\n") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := out.String(); got != "start\nmore\n" {
		t.Errorf("followed so far = %q (a partial line must wait)", got)
	}
	select {
	case err := <-done:
		t.Fatalf("follow ended while the container runs: %v", err)
	default:
	}
	if err := h.rt.Exit("app", 0); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end when the container exited")
	}
	if got := out.String(); got != "start\nmore\npartial" {
		t.Errorf("followed = %q", got)
	}
}

func TestLogsErrors(t *testing.T) {
	h := newHarness(t)
	h.rt.PullErr["nginx:x"] = errorString("no such host")
	w := h.start(testPod("logs", func(p *corev1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "web", Image: "nginx:x"})
	}))
	h.sync(w)
	for _, tc := range []struct {
		opts *corev1.PodLogOptions
		want string
	}{
		{&corev1.PodLogOptions{}, "a container name must be specified for pod logs, choose one of: [app web]"},
		{&corev1.PodLogOptions{Container: "nope"}, "container nope is not valid for pod logs"},
		{&corev1.PodLogOptions{Container: "web"}, `container "web" in pod "logs" is waiting to start: ErrImagePull`},
	} {
		if _, err := h.logs(tc.opts); err == nil || err.Error() != tc.want {
			t.Errorf("Logs(%+v) error = %v, want %q", tc.opts, err, tc.want)
		}
	}
}

func TestTailOffset(t *testing.T) {
	for _, tc := range []struct {
		data string
		n    int64
		want string
	}{
		{"a\nb\nc\n", 1, "c\n"}, {"a\nb\nc", 1, "c"}, {"a\nb\nc", 2, "b\nc"}, {"", 3, ""}, {"a\n", 5, "a\n"},
		{strings.Repeat("x", 70000) + "\nlast\n", 1, "last\n"},
	} {
		f := writeTemp(t, tc.data)
		off, err := tailOffset(f, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if got := tc.data[off:]; got != tc.want {
			t.Errorf("tail %d of %.20q = %.20q, want %.20q", tc.n, tc.data, got, tc.want)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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
