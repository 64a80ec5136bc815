package kubelet

import (
	"net/netip"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// podState is what a worker knows about its pod beyond the API object.
type podState struct {
	netns        string
	ip           netip.Addr
	networkReady bool
	torndown     bool // network released (terminal or terminated pod)
	startTime    time.Time
	volumes      *podVolumes
	inits        []*ctrState // one per spec.initContainers, in order
	ctrs         []*ctrState // one per spec.containers, in order
	terminal     bool        // phase Succeeded or Failed: nothing is (re)started
	deleted      bool        // stopped because the pod is being deleted
	adopted      bool        // containers found running at the first sync were taken over
	lastWritten  *corev1.PodStatus
	sandboxErr   string
	pullErr      map[string]string // last pull error per back-off key
}

// ctrState is one container of the pod across its restarts.
type ctrState struct {
	name     string
	isInit   bool
	restarts int32
	id       string // runtime ID of the latest instance ("" before the first start)
	running  bool
	started  time.Time
	imageID  string
	image    string // the image the running instance was started from
	// cur is the latest instance's exit (nil while it runs or before it ran); prev is the
	// exit of the instance before it.
	cur, prev *corev1.ContainerStateTerminated
	// waiting, when set, is shown while the container is not running (back-off, pull errors).
	waiting    *corev1.ContainerStateWaiting
	backoffFor string // the instance whose crash back-off event was already recorded
	probers    []*prober
}

// init seeds the state from the pod's status so a restarted kubelet adopts what it ran
// before (restart counts, last states and still-running containers).
func (s *podState) init(pod *corev1.Pod) {
	s.inits = make([]*ctrState, len(pod.Spec.InitContainers))
	for i, c := range pod.Spec.InitContainers {
		s.inits[i] = adoptState(c.Name, true, pod.Status.InitContainerStatuses)
	}
	s.ctrs = make([]*ctrState, len(pod.Spec.Containers))
	for i, c := range pod.Spec.Containers {
		s.ctrs[i] = adoptState(c.Name, false, pod.Status.ContainerStatuses)
	}
	if pod.Status.StartTime != nil {
		s.startTime = pod.Status.StartTime.Time
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		s.terminal = true
	}
	st := pod.Status.DeepCopy()
	s.lastWritten = st
}

func adoptState(name string, isInit bool, statuses []corev1.ContainerStatus) *ctrState {
	c := &ctrState{name: name, isInit: isInit}
	for _, cs := range statuses {
		if cs.Name != name {
			continue
		}
		c.restarts = cs.RestartCount
		c.imageID = cs.ImageID
		c.image = cs.Image
		if _, id, ok := strings.Cut(cs.ContainerID, "://"); ok {
			c.id = id
		}
		c.prev = cs.LastTerminationState.Terminated
		switch {
		case cs.State.Running != nil:
			// Confirmed (or dropped) against the runtime on the first sync.
			c.running = true
			c.started = cs.State.Running.StartedAt.Time
		case cs.State.Terminated != nil:
			c.cur = cs.State.Terminated
		case cs.State.Waiting != nil && cs.LastTerminationState.Terminated != nil:
			c.cur, c.prev = cs.LastTerminationState.Terminated, nil
		}
	}
	return c
}

// all returns init containers then containers.
func (s *podState) all() []*ctrState {
	return append(append([]*ctrState{}, s.inits...), s.ctrs...)
}

// containerSpec finds a container of pod by name (init containers included).
func containerSpec(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}
