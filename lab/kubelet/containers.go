package kubelet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/svclab/svclab/lab/runtime"
)

// minimumGracePeriod is upstream's floor for stopping a container (killContainer).
const minimumGracePeriod = 2 * time.Second

// runtimeID names a container instance: stable per pod UID, container name and attempt, so a
// restarted kubelet finds the instances it started.
func runtimeID(uid types.UID, name string, attempt int32) string {
	sum := sha256.Sum256([]byte(string(uid) + "/" + name + "/" + strconv.Itoa(int(attempt))))
	return hex.EncodeToString(sum[:])
}

// containerID is the containerStatuses[].containerID form: "<runtime>://<id>".
func (k *Kubelet) containerID(id string) string {
	if id == "" {
		return ""
	}
	return k.rt.Name() + "://" + id
}

// logPath is the log file of one container attempt (StateDir/logs/<ns>_<pod>_<uid>/<c>/<n>.log).
func (k *Kubelet) logPath(pod *corev1.Pod, name string, attempt int32) string {
	return filepath.Join(k.logDir(pod), name, strconv.Itoa(int(attempt))+".log")
}

// containerRef is the event target for a container, as upstream's GenerateContainerRef.
func containerRef(pod *corev1.Pod, name string, isInit bool) *corev1.ObjectReference {
	field := "spec.containers{" + name + "}"
	if isInit {
		field = "spec.initContainers{" + name + "}"
	}
	return &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
		UID: pod.UID, ResourceVersion: pod.ResourceVersion, FieldPath: field}
}

// startContainer pulls the image, builds the container's configuration and starts it; on
// failure the container shows the upstream waiting reason.
func (w *podWorker) startContainer(ctx context.Context, pod *corev1.Pod, spec *corev1.Container, c *ctrState) {
	k := w.k
	ref := containerRef(pod, spec.Name, c.isInit)
	handler, err := k.runtimeHandler(ctx, pod)
	if err != nil {
		c.waiting = &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: err.Error()}
		k.rec.Event(ref, corev1.EventTypeWarning, "Failed", "Error: "+err.Error())
		return
	}
	imageID, reason, msg := w.ensureImage(ctx, pod, spec, c, ref, k.imageRuntime(handler))
	if reason != "" {
		c.waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: msg}
		return
	}
	c.imageID = imageID

	attempt := c.restarts
	if c.cur != nil {
		attempt++
	}
	cs, err := w.containerConfig(ctx, pod, spec, attempt)
	cs.Handler = handler
	if err != nil {
		c.waiting = &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: err.Error()}
		k.rec.Event(ref, corev1.EventTypeWarning, "Failed", "Error: "+err.Error())
		return
	}
	if err := os.MkdirAll(filepath.Dir(cs.LogPath), 0o755); err != nil {
		c.waiting = &corev1.ContainerStateWaiting{Reason: "CreateContainerError", Message: err.Error()}
		return
	}
	// Upstream keeps only the previous attempt's log.
	if attempt >= 2 {
		_ = os.Remove(k.logPath(pod, spec.Name, attempt-2))
		k.logIdx.remove(k.logPath(pod, spec.Name, attempt-2))
	}
	// A failed earlier try of this very attempt may have left a container behind.
	_ = k.rt.Remove(ctx, cs.ID)
	k.logIdx.start(cs.ID, cs.LogPath)
	if err := k.rt.Start(ctx, cs); err != nil {
		k.logIdx.finish(cs.ID)
		c.waiting = &corev1.ContainerStateWaiting{Reason: "RunContainerError", Message: err.Error()}
		k.rec.Event(ref, corev1.EventTypeWarning, "Failed", "Error: "+err.Error())
		k.log.Warn("container start failed", "pod", podKey(pod), "container", spec.Name, "err", err)
		return
	}
	k.rec.Event(ref, corev1.EventTypeNormal, "Created", "Created container: "+spec.Name)
	k.rec.Event(ref, corev1.EventTypeNormal, "Started", "Started container "+spec.Name)
	if c.cur != nil {
		c.prev, c.cur = c.cur, nil
		c.restarts++
	}
	c.id, c.running, c.waiting, c.image = cs.ID, true, nil, spec.Image
	c.started = k.clock.Now()
	if st, err := k.rt.Status(ctx, cs.ID); err == nil && !st.StartedAt.IsZero() {
		c.started = st.StartedAt
	}
	if !c.isInit {
		w.startProbers(ctx, pod, spec, c)
	}
}

// ensureImage makes the image available, with upstream's events and pull back-off. It returns
// the image ID, or the waiting reason and message when the container cannot start yet.
func (w *podWorker) ensureImage(ctx context.Context, pod *corev1.Pod, spec *corev1.Container, c *ctrState, ref *corev1.ObjectReference, rt runtime.Runtime) (imageID, reason, msg string) {
	k := w.k
	image := spec.Image
	present, imageID := false, image
	checker, canCheck := rt.(ImageChecker)
	if canCheck {
		id, ok, err := checker.ImagePresent(ctx, image)
		if err != nil {
			msg := fmt.Sprintf("Failed to inspect image %q: %v", image, err)
			k.rec.Event(ref, corev1.EventTypeWarning, "InspectFailed", msg)
			return "", "ImageInspectError", msg
		}
		present = ok
		if ok && id != "" {
			imageID = id
		}
	}
	policy := spec.ImagePullPolicy
	if policy == corev1.PullNever && canCheck && !present {
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", image)
		k.rec.Event(ref, corev1.EventTypeWarning, "ErrImageNeverPull", msg)
		return "", "ErrImageNeverPull", msg
	}
	if (present && policy != corev1.PullAlways) || policy == corev1.PullNever {
		k.rec.Event(ref, corev1.EventTypeNormal, "Pulled", fmt.Sprintf("Container image %q already present on machine", image))
		return imageID, "", ""
	}

	key := string(pod.UID) + "_" + image
	if k.pullBO.IsInBackOffSinceUpdate(key, k.clock.Now()) {
		// Record the back-off once per failed pull, not on every pass.
		if c.waiting == nil || c.waiting.Reason != "ImagePullBackOff" {
			k.rec.Event(ref, corev1.EventTypeNormal, "BackOff", fmt.Sprintf("Back-off pulling image %q", image))
			k.rec.Event(ref, corev1.EventTypeWarning, "Failed", "Error: ImagePullBackOff")
		}
		last := w.st.pullErr[key]
		return "", "ImagePullBackOff", fmt.Sprintf("Back-off pulling image %q: ErrImagePull: %s", image, last)
	}
	k.rec.Event(ref, corev1.EventTypeNormal, "Pulling", fmt.Sprintf("Pulling image %q", image))
	begin := k.clock.Now()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err := rt.EnsureImage(pctx, image)
	cancel()
	if err != nil {
		k.pullBO.Next(key, k.clock.Now())
		if w.st.pullErr == nil {
			w.st.pullErr = map[string]string{}
		}
		w.st.pullErr[key] = err.Error()
		k.rec.Event(ref, corev1.EventTypeWarning, "Failed", fmt.Sprintf("Failed to pull image %q: %v", image, err))
		k.rec.Event(ref, corev1.EventTypeWarning, "Failed", "Error: ErrImagePull")
		return "", "ErrImagePull", err.Error()
	}
	took := k.clock.Since(begin).Round(time.Millisecond)
	k.rec.Event(ref, corev1.EventTypeNormal, "Pulled",
		fmt.Sprintf("Successfully pulled image %q in %v (%v including waiting)", image, took, took))
	if canCheck {
		if id, ok, err := checker.ImagePresent(ctx, image); err == nil && ok && id != "" {
			imageID = id
		}
	}
	return imageID, "", ""
}

// killContainer stops c's running instance with grace and records its exit; reason, when set,
// is the probe failure behind it (its Killing event says the container will be restarted).
func (w *podWorker) killContainer(ctx context.Context, pod *corev1.Pod, c *ctrState, reason string, grace time.Duration) {
	k := w.k
	msg := "Stopping container " + c.name
	switch reason {
	case "":
	case "definition":
		msg = fmt.Sprintf("Container %s definition changed, will be restarted", c.name)
	default:
		msg = fmt.Sprintf("Container %s failed %s probe, will be restarted", c.name, reason)
	}
	k.rec.Event(containerRef(pod, c.name, c.isInit), corev1.EventTypeNormal, "Killing", msg)
	w.stopProbers(c)
	if grace < minimumGracePeriod {
		grace = minimumGracePeriod
	}
	if err := k.rt.Stop(ctx, c.id, grace); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		k.log.Warn("container stop failed", "pod", podKey(pod), "container", c.name, "err", err)
	}
	st, err := k.rt.Status(ctx, c.id)
	if err != nil {
		st = runtime.Status{State: runtime.StateExited, ExitCode: 137, Reason: "Error"}
	}
	if st.Reason == "" && st.ExitCode != 0 {
		st.Reason = "Error"
	}
	w.recordExit(ctx, c, st, "")
	k.probes.forget(c.id)
}

// probeGrace is the grace period for a container killed by a probe: the probe's own
// terminationGracePeriodSeconds when set, else the pod's.
func probeGrace(pod *corev1.Pod, spec *corev1.Container, reason string) time.Duration {
	if spec != nil {
		p := spec.LivenessProbe
		if reason == "startup" {
			p = spec.StartupProbe
		}
		if p != nil && p.TerminationGracePeriodSeconds != nil {
			return time.Duration(*p.TerminationGracePeriodSeconds) * time.Second
		}
	}
	return podGrace(pod)
}

// podGrace is the pod's termination grace period: the deletion's when it is being deleted,
// else spec.terminationGracePeriodSeconds (30s by default).
func podGrace(pod *corev1.Pod) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	default:
		return 30 * time.Second
	}
}
