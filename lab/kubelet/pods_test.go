package kubelet

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svclab/svclab/lab/runtime"
)

func TestPodStartsRunningReady(t *testing.T) {
	h := newHarness(t)
	w := h.start(testPod("web", func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}
	}))
	h.sync(w)

	running := h.rt.Running()
	spec, ok := running["app"]
	if !ok {
		t.Fatalf("container not started; runtime calls %v", h.rt.Calls())
	}
	if spec.NetNSPath != "/run/netns/fake-web-uid" || spec.Hostname != "web" || spec.Image != testImage ||
		spec.PodName != "web" || spec.PodNamespace != "default" || spec.PodUID != "web-uid" {
		t.Errorf("container spec = %+v", spec)
	}
	if want := filepath.Join(h.k.cfg.StateDir, "logs", "default_web_web-uid", "app", "0.log"); spec.LogPath != want {
		t.Errorf("log path = %q, want %q", spec.LogPath, want)
	}
	var paths []string
	for _, m := range spec.Mounts {
		paths = append(paths, m.ContainerPath)
	}
	for _, want := range []string{ServiceAccountMountPath, "/etc/hosts", "/etc/resolv.conf"} {
		if !slices.Contains(paths, want) {
			t.Errorf("mount %s missing from %v", want, paths)
		}
	}

	pod := h.pod("web")
	st := pod.Status
	if st.Phase != corev1.PodRunning {
		t.Errorf("phase = %s, want Running", st.Phase)
	}
	if st.PodIP != "10.245.1.2" || len(st.PodIPs) != 1 || st.HostIP != "172.31.7.11" || len(st.HostIPs) != 1 {
		t.Errorf("IPs = pod %s %v host %s %v", st.PodIP, st.PodIPs, st.HostIP, st.HostIPs)
	}
	if st.StartTime == nil || !st.StartTime.Time.Equal(testStart) {
		t.Errorf("startTime = %v", st.StartTime)
	}
	if st.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("qosClass = %s", st.QOSClass)
	}
	var types []string
	for _, c := range st.Conditions {
		types = append(types, string(c.Type)+"="+string(c.Status))
	}
	if got, want := strings.Join(types, ","), "PodReadyToStartContainers=True,Initialized=True,Ready=True,ContainersReady=True,PodScheduled=True"; got != want {
		t.Errorf("conditions = %s, want %s", got, want)
	}
	cs := containerStatus(pod, "app")
	if cs.State.Running == nil || !cs.Ready || cs.Started == nil || !*cs.Started || cs.RestartCount != 0 {
		t.Errorf("container status = %+v", cs)
	}
	if !strings.HasPrefix(cs.ContainerID, "containerd://") || len(cs.ContainerID) != len("containerd://")+64 {
		t.Errorf("containerID = %q", cs.ContainerID)
	}
	if cs.ImageID != testImage+"@sha256:fake" || cs.Image != testImage {
		t.Errorf("image %q imageID %q", cs.Image, cs.ImageID)
	}
	ev := h.events()
	for _, want := range []string{
		`Normal Pulled Container image "svclab.local/agent:v1" already present on machine`,
		"Normal Created Created container: app",
		"Normal Started Started container app",
	} {
		if !hasEvent(ev, want) {
			t.Errorf("missing event %q in %q", want, ev)
		}
	}

	// A second pass changes nothing and writes nothing.
	before := len(h.client.Actions())
	h.step(w, syncPeriod)
	for _, a := range h.client.Actions()[before:] {
		if a.GetVerb() == "update" {
			t.Errorf("unchanged pod written again: %v", a)
		}
	}
}

func TestInitContainersRunFirst(t *testing.T) {
	h := newHarness(t)
	w := h.start(testPod("init", func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: testImage}, {Name: "migrate", Image: testImage}}
	}))
	h.sync(w)
	if _, ok := h.rt.Running()["app"]; ok {
		t.Fatal("app started before init containers")
	}
	pod := h.pod("init")
	if pod.Status.Phase != corev1.PodPending {
		t.Errorf("phase = %s", pod.Status.Phase)
	}
	if c := condition(pod, corev1.PodInitialized); c.Status != corev1.ConditionFalse || c.Message != "containers with incomplete status: [setup migrate]" {
		t.Errorf("Initialized = %+v", c)
	}
	if w := containerStatus(pod, "app").State.Waiting; w == nil || w.Reason != "PodInitializing" {
		t.Errorf("app state = %+v", containerStatus(pod, "app").State)
	}
	if err := h.rt.Exit("setup", 0); err != nil {
		t.Fatal(err)
	}
	h.step(w, syncPeriod)
	if _, ok := h.rt.Running()["migrate"]; !ok {
		t.Fatal("second init container not started after the first completed")
	}
	if err := h.rt.Exit("migrate", 0); err != nil {
		t.Fatal(err)
	}
	h.step(w, syncPeriod)
	if _, ok := h.rt.Running()["app"]; !ok {
		t.Fatal("app not started after init containers completed")
	}
	pod = h.pod("init")
	if t0 := containerStatus(pod, "setup").State.Terminated; t0 == nil || t0.Reason != "Completed" || t0.ExitCode != 0 {
		t.Errorf("setup state = %+v", containerStatus(pod, "setup").State)
	}
	if pod.Status.Phase != corev1.PodRunning || condition(pod, corev1.PodInitialized).Status != corev1.ConditionTrue {
		t.Errorf("phase %s, Initialized %v", pod.Status.Phase, condition(pod, corev1.PodInitialized))
	}
}

func TestRestartPolicyTerminalPhases(t *testing.T) {
	for _, tc := range []struct {
		policy corev1.RestartPolicy
		exit   int
		phase  corev1.PodPhase
	}{
		{corev1.RestartPolicyNever, 1, corev1.PodFailed},
		{corev1.RestartPolicyNever, 0, corev1.PodSucceeded},
		{corev1.RestartPolicyOnFailure, 0, corev1.PodSucceeded},
		{corev1.RestartPolicyOnFailure, 2, corev1.PodRunning},
		{corev1.RestartPolicyAlways, 0, corev1.PodRunning},
	} {
		t.Run(string(tc.policy)+"/"+string(rune('0'+tc.exit)), func(t *testing.T) {
			h := newHarness(t)
			w := h.start(testPod("job", func(p *corev1.Pod) { p.Spec.RestartPolicy = tc.policy }))
			h.sync(w)
			if err := h.rt.Exit("app", tc.exit); err != nil {
				t.Fatal(err)
			}
			h.step(w, syncPeriod)
			pod := h.pod("job")
			if pod.Status.Phase != tc.phase {
				t.Errorf("phase = %s, want %s", pod.Status.Phase, tc.phase)
			}
			tornDown := false
			for _, c := range h.net.Calls() {
				tornDown = tornDown || c.Op == "Teardown"
			}
			terminal := tc.phase == corev1.PodSucceeded || tc.phase == corev1.PodFailed
			if tornDown != terminal {
				t.Errorf("network torn down = %v, want %v", tornDown, terminal)
			}
			if terminal {
				cs := containerStatus(pod, "app")
				if cs.State.Terminated == nil || int(cs.State.Terminated.ExitCode) != tc.exit || cs.Ready {
					t.Errorf("container status = %+v", cs)
				}
				if pod.Status.PodIP == "" {
					t.Errorf("terminal pod lost its IP")
				}
				// Nothing restarts later.
				h.step(w, 10*60*1e9)
				if len(h.rt.Running()) != 0 {
					t.Errorf("terminal pod restarted a container")
				}
			}
		})
	}
}

func TestPodSandboxFailure(t *testing.T) {
	h := newHarness(t)
	h.net.SetupErr = errorString("no address left in 10.245.1.0/24")
	w := h.start(testPod("nonet"))
	h.sync(w)
	if len(h.rt.Running()) != 0 {
		t.Fatal("container started without a network")
	}
	if !hasEvent(h.events(), "Warning FailedCreatePodSandBox Failed to create pod sandbox: no address left in 10.245.1.0/24") {
		t.Error("no FailedCreatePodSandBox event")
	}
	pod := h.pod("nonet")
	if c := condition(pod, corev1.PodReadyToStartContainers); c.Status != corev1.ConditionFalse {
		t.Errorf("PodReadyToStartContainers = %v", c)
	}
	if w := containerStatus(pod, "app").State.Waiting; w == nil || w.Reason != "ContainerCreating" {
		t.Errorf("state = %+v", containerStatus(pod, "app").State)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestImageUpdateRestartsContainer(t *testing.T) {
	h := newHarness(t)
	w := h.start(testPod("upd"))
	h.sync(w)
	pod := h.pod("upd")
	pod.Spec.Containers[0].Image = "svclab.local/agent:v2"
	h.rt.Images["svclab.local/agent:v2"] = true
	w.update(pod, false)
	h.step(w, syncPeriod)
	if got := h.rt.Running()["app"].Image; got != "svclab.local/agent:v2" {
		t.Errorf("running image = %q", got)
	}
	if !hasEvent(h.events(), "Normal Killing Container app definition changed, will be restarted") {
		t.Error("no Killing event")
	}
	if cs := containerStatus(h.pod("upd"), "app"); cs.RestartCount != 1 || cs.Image != "svclab.local/agent:v2" {
		t.Errorf("status = %+v", cs)
	}
	_ = metav1.Now
	_ = runtime.StateRunning
}
