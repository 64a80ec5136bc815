package kubelet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svclab/svclab/lab/runtime"
)

// followPoll is how often a followed log is checked for new output.
const followPoll = 200 * time.Millisecond

// errLimit stops a copy once limitBytes were written.
var errLimit = errors.New("log limit reached")

// Logs writes a container's log to w with `kubectl logs` semantics: container, follow,
// previous, tailLines, sinceSeconds/sinceTime, timestamps and limitBytes. Runtimes write raw
// output, so a line's timestamp is when kubelet-lite saw it appear (within followPoll).
func (k *Kubelet) Logs(ctx context.Context, namespace, name string, opts *corev1.PodLogOptions, w io.Writer) error {
	if opts == nil {
		opts = &corev1.PodLogOptions{}
	}
	pod, err := k.getPod(ctx, namespace, name)
	if err != nil {
		return err
	}
	container := opts.Container
	if container == "" {
		if len(pod.Spec.Containers) != 1 {
			var names []string
			for _, c := range pod.Spec.Containers {
				names = append(names, c.Name)
			}
			return apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", name, strings.Join(names, " ")))
		}
		container = pod.Spec.Containers[0].Name
	}
	if containerSpec(pod, container) == nil {
		return apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, name))
	}
	attempts := k.logAttempts(pod, container)
	if len(attempts) == 0 {
		return apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: %s", container, name, waitingReason(pod, container)))
	}
	attempt := attempts[len(attempts)-1]
	if opts.Previous {
		if len(attempts) < 2 {
			return apierrors.NewBadRequest(fmt.Sprintf("previous terminated container %q in pod %q not found", container, name))
		}
		attempt = attempts[len(attempts)-2]
	}
	path := k.logPath(pod, container, attempt)
	id := runtimeID(pod.UID, container, attempt)
	if opts.LimitBytes != nil {
		w = &limitWriter{w: w, left: *opts.LimitBytes}
	}
	var since time.Time
	switch {
	case opts.SinceTime != nil:
		since = opts.SinceTime.Time
	case opts.SinceSeconds != nil:
		since = k.clock.Now().Add(-time.Duration(*opts.SinceSeconds) * time.Second)
	}
	r := &logReader{k: k, path: path, since: since, timestamps: opts.Timestamps, w: w}
	follow := opts.Follow && !opts.Previous
	err = r.copy(ctx, opts.TailLines, follow, func() bool { return k.instanceRunning(ctx, id) })
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

func (k *Kubelet) getPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	if k.podLister != nil {
		if pod, err := k.podLister.Pods(namespace).Get(name); err == nil {
			return pod, nil
		}
	}
	pod, err := k.client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if pod.Spec.NodeName != k.cfg.NodeName {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %q is not running on node %q", name, k.cfg.NodeName))
	}
	return pod, nil
}

// logAttempts lists the attempts whose log files exist, oldest first.
func (k *Kubelet) logAttempts(pod *corev1.Pod, container string) []int32 {
	entries, err := os.ReadDir(filepath.Join(k.logDir(pod), container))
	if err != nil {
		return nil
	}
	var out []int32
	for _, e := range entries {
		n, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok {
			continue
		}
		if i, err := strconv.Atoi(n); err == nil {
			out = append(out, int32(i))
		}
	}
	slices.Sort(out)
	return out
}

func waitingReason(pod *corev1.Pod, container string) string {
	for _, cs := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		if cs.Name == container && cs.State.Waiting != nil && cs.State.Waiting.Reason != "" {
			return cs.State.Waiting.Reason
		}
	}
	return "ContainerCreating"
}

// instanceRunning reports whether the runtime still runs the container instance.
func (k *Kubelet) instanceRunning(ctx context.Context, id string) bool {
	st, err := k.rt.Status(ctx, id)
	return err == nil && (st.State == runtime.StateRunning || st.State == runtime.StateCreated)
}

// logReader copies one log file line by line.
type logReader struct {
	k          *Kubelet
	path       string
	since      time.Time
	timestamps bool
	w          io.Writer
}

// copy writes the file from its tail (or start), then, when following, new lines until
// running reports false and the file holds nothing more.
func (r *logReader) copy(ctx context.Context, tail *int64, follow bool, running func() bool) error {
	f, err := os.Open(r.path)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	defer f.Close()
	off := int64(0)
	if tail != nil {
		if off, err = tailOffset(f, *tail); err != nil {
			return err
		}
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	br := bufio.NewReaderSize(f, 64*1024)
	var partial []byte
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if line[len(line)-1] != '\n' && follow {
				partial = append(partial, line...)
			} else {
				full := append(partial, line...)
				partial = nil
				if werr := r.emit(full, off+int64(len(full))); werr != nil {
					return werr
				}
			}
			off += int64(len(line))
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, io.EOF) {
			return err
		}
		if !follow {
			return nil
		}
		if !running() {
			// Drain what the container wrote before it stopped.
			if rest, _ := io.ReadAll(br); len(rest) > 0 {
				partial = append(partial, rest...)
				off += int64(len(rest))
			}
			if len(partial) > 0 {
				return r.emit(partial, off)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(followPoll):
		}
	}
}

// emit writes one line whose last byte is at end-1, with its timestamp when asked for.
func (r *logReader) emit(line []byte, end int64) error {
	if r.timestamps || !r.since.IsZero() {
		ts := r.k.logIdx.timeAt(r.path, end)
		if !r.since.IsZero() && ts.Before(r.since) {
			return nil
		}
		if r.timestamps {
			if _, err := io.WriteString(r.w, ts.UTC().Format(time.RFC3339Nano)+" "); err != nil {
				return err
			}
		}
	}
	_, err := r.w.Write(line)
	return err
}

// tailOffset finds where the last n lines of f start.
func tailOffset(f *os.File, n int64) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	if n <= 0 {
		return size, nil
	}
	const block = 32 * 1024
	buf := make([]byte, block)
	pos := size
	var newlines int64
	// A final newline ends the last line rather than starting an empty one.
	skipLast := true
	for pos > 0 {
		read := int64(block)
		if pos < read {
			read = pos
		}
		pos -= read
		if _, err := f.ReadAt(buf[:read], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := read - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				skipLast = false
				continue
			}
			if skipLast && pos+i == size-1 {
				skipLast = false
				continue
			}
			newlines++
			if newlines == n {
				return pos + i + 1, nil
			}
		}
	}
	return 0, nil
}

// limitWriter stops after left bytes.
type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errLimit
	}
	if int64(len(p)) > l.left {
		n, err := l.w.Write(p[:l.left])
		l.left -= int64(n)
		if err == nil {
			err = errLimit
		}
		return n, err
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	return n, err
}
