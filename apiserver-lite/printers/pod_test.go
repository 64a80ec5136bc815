package printers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const podColumns = "NAME | READY | STATUS | RESTARTS | AGE | IP (wide) | NODE (wide) | NOMINATED NODE (wide) | READINESS GATES (wide)"

// testPod is a pod created 5m ago with one container "web" per name in containers, on node-1.
func testPod(mutate func(*corev1.Pod), containers ...string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "default", CreationTimestamp: ago(5 * time.Minute)},
		Spec:       corev1.PodSpec{NodeName: "node-1"},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.1.5", PodIPs: []corev1.PodIP{{IP: "10.244.1.5"}}},
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "svclab/agent"})
	}
	mutate(p)
	return p
}

func running(name string, ready bool, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Ready: ready, RestartCount: restarts,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Minute)}}}
}

func waiting(name, reason string, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, RestartCount: restarts,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func terminated(name, reason string, exitCode, signal int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: exitCode, Signal: signal}}}
}

// lastTerminated records a previous termination that finished d ago.
func lastTerminated(s corev1.ContainerStatus, d time.Duration) corev1.ContainerStatus {
	s.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", FinishedAt: ago(d)}
	return s
}

func condition(t corev1.PodConditionType, s corev1.ConditionStatus) corev1.PodCondition {
	return corev1.PodCondition{Type: t, Status: s}
}

// wide appends the default wide cells of testPod.
func wide(cells ...interface{}) []interface{} {
	return append(cells, "10.244.1.5", "node-1", "<none>", "<none>")
}

func TestPrintPod(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	cases := []rowCase{
		{"running and ready", testPod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("web", true, 0)}
			p.Status.Conditions = []corev1.PodCondition{condition(corev1.PodReady, corev1.ConditionTrue)}
		}, "web"), wide("web-1", "1/1", "Running", "0", "5m")},

		{"container creating", testPod(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Status.PodIP, p.Status.PodIPs = "", nil
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("web", "ContainerCreating", 0)}
		}, "web"), []interface{}{"web-1", "0/1", "ContainerCreating", "0", "5m", "<none>", "node-1", "<none>", "<none>"}},

		{"pending, not scheduled yet", testPod(func(p *corev1.Pod) {
			p.Spec.NodeName = ""
			p.Status = corev1.PodStatus{Phase: corev1.PodPending, NominatedNodeName: "node-2"}
		}, "web", "sidecar"), []interface{}{"web-1", "0/2", "Pending", "0", "5m", "<none>", "<none>", "node-2", "<none>"}},

		{"scheduling gated", testPod(func(p *corev1.Pod) {
			p.Spec.NodeName = ""
			p.Status = corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated}}}
		}, "web"), []interface{}{"web-1", "0/1", "SchedulingGated", "0", "5m", "<none>", "<none>", "<none>", "<none>"}},

		{"crash looping with restarts", testPod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{lastTerminated(waiting("web", "CrashLoopBackOff", 3), 5*time.Minute)}
		}, "web"), wide("web-1", "0/1", "CrashLoopBackOff", "3 (5m ago)", "5m")},

		{"restarts without a last termination time", testPod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("web", true, 2)}
		}, "web"), wide("web-1", "1/1", "Running", "2", "5m")},

		{"restarts summed, newest termination shown", testPod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{
				lastTerminated(running("web", true, 1), 90*time.Second),
				lastTerminated(running("sidecar", true, 4), 30*time.Minute),
			}
		}, "web", "sidecar"), wide("web-1", "2/2", "Running", "5 (90s ago)", "5m")},

		{"image pull back-off", testPod(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("web", true, 0), waiting("sidecar", "ImagePullBackOff", 0)}
		}, "web", "sidecar"), wide("web-1", "1/2", "ImagePullBackOff", "0", "5m")},

		{"terminated without reason shows exit code", testPod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("web", "", 137, 0)}
		}, "web"), wide("web-1", "0/1", "ExitCode:137", "0", "5m")},

		{"terminated by signal", testPod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("web", "", 137, 9)}
		}, "web"), wide("web-1", "0/1", "Signal:9", "0", "5m")},

		{"completed", testPod(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodSucceeded
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("web", "Completed", 0, 0)}
		}, "web"), wide("web-1", "0/1", "Completed", "0", "5m")},

		{"one container completed, one still running and pod ready", testPod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("job", "Completed", 0, 0), running("web", true, 0)}
			p.Status.Conditions = []corev1.PodCondition{condition(corev1.PodReady, corev1.ConditionTrue)}
		}, "job", "web"), wide("web-1", "1/2", "Running", "0", "5m")},

		{"one container completed, one still running, pod not ready", testPod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("job", "Completed", 0, 0), running("web", true, 0)}
			p.Status.Conditions = []corev1.PodCondition{condition(corev1.PodReady, corev1.ConditionFalse)}
		}, "job", "web"), wide("web-1", "1/2", "NotReady", "0", "5m")},

		{"evicted", testPod(func(p *corev1.Pod) {
			p.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}
		}, "web"), []interface{}{"web-1", "0/1", "Evicted", "0", "5m", "<none>", "node-1", "<none>", "<none>"}},

		{"terminating", testPod(func(p *corev1.Pod) {
			p.DeletionTimestamp = ptr(ago(time.Second))
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("web", true, 0)}
		}, "web"), wide("web-1", "1/1", "Terminating", "0", "5m")},

		{"deleted after it succeeded stays Completed", testPod(func(p *corev1.Pod) {
			p.DeletionTimestamp = ptr(ago(time.Second))
			p.Status.Phase = corev1.PodSucceeded
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("web", "Completed", 0, 0)}
		}, "web"), wide("web-1", "0/1", "Completed", "0", "5m")},

		{"deleted on a lost node", testPod(func(p *corev1.Pod) {
			p.DeletionTimestamp = ptr(ago(time.Second))
			p.Status.Reason = "NodeLost"
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("web", true, 0)}
		}, "web"), wide("web-1", "1/1", "Unknown", "0", "5m")},

		{"init container running", testPod(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Spec.InitContainers = []corev1.Container{{Name: "wait-db"}, {Name: "migrate"}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{running("wait-db", false, 0), waiting("migrate", "PodInitializing", 0)}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("web", "PodInitializing", 0)}
		}, "web"), wide("web-1", "0/1", "Init:0/2", "0", "5m")},

		{"second init container running", testPod(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Spec.InitContainers = []corev1.Container{{Name: "wait-db"}, {Name: "migrate"}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{terminated("wait-db", "Completed", 0, 0), running("migrate", false, 0)}
		}, "web"), wide("web-1", "0/1", "Init:1/2", "0", "5m")},

		{"init container crash looping", testPod(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Spec.InitContainers = []corev1.Container{{Name: "migrate"}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{lastTerminated(waiting("migrate", "CrashLoopBackOff", 2), time.Minute)}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("web", "PodInitializing", 0)}
		}, "web"), wide("web-1", "0/1", "Init:CrashLoopBackOff", "2 (60s ago)", "5m")},

		{"init container failed with reason", testPod(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Spec.InitContainers = []corev1.Container{{Name: "migrate"}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{terminated("migrate", "Error", 1, 0)}
		}, "web"), wide("web-1", "0/1", "Init:Error", "0", "5m")},

		{"init container failed with exit code", testPod(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Spec.InitContainers = []corev1.Container{{Name: "migrate"}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{terminated("migrate", "", 2, 0)}
		}, "web"), wide("web-1", "0/1", "Init:ExitCode:2", "0", "5m")},

		{"init container killed by signal", testPod(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Spec.InitContainers = []corev1.Container{{Name: "migrate"}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{terminated("migrate", "", 137, 9)}
		}, "web"), wide("web-1", "0/1", "Init:Signal:9", "0", "5m")},

		{"sidecar counted in READY and restarts", testPod(func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "proxy", RestartPolicy: &always}}
			sidecar := lastTerminated(running("proxy", true, 1), 10*time.Minute)
			sidecar.Started = ptr(true)
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{sidecar}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("web", true, 0)}
			p.Status.Conditions = []corev1.PodCondition{condition(corev1.PodInitialized, corev1.ConditionTrue), condition(corev1.PodReady, corev1.ConditionTrue)}
		}, "web"), wide("web-1", "2/2", "Running", "1 (10m ago)", "5m")},

		{"sidecar not started yet", testPod(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Spec.InitContainers = []corev1.Container{{Name: "proxy", RestartPolicy: &always}}
			sidecar := running("proxy", false, 0)
			sidecar.Started = ptr(false)
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{sidecar}
		}, "web"), wide("web-1", "0/2", "Init:0/1", "0", "5m")},

		{"readiness gates and nominated node", testPod(func(p *corev1.Pod) {
			p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb-ready"}, {ConditionType: "example.com/dns-ready"}}
			p.Status.NominatedNodeName = "node-3"
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("web", true, 0)}
			p.Status.Conditions = []corev1.PodCondition{
				condition("example.com/lb-ready", corev1.ConditionTrue),
				condition("example.com/dns-ready", corev1.ConditionFalse),
			}
		}, "web"), []interface{}{"web-1", "1/1", "Running", "0", "5m", "10.244.1.5", "node-1", "node-3", "1/2"}},

		{"pod IP taken from podIPs when podIP is empty", testPod(func(p *corev1.Pod) {
			p.Status.PodIP = ""
			p.Status.PodIPs = []corev1.PodIP{{IP: "fd00:10:244::5"}, {IP: "10.244.1.5"}}
		}, "web"), []interface{}{"web-1", "0/1", "Running", "0", "5m", "fd00:10:244::5", "node-1", "<none>", "<none>"}},

		{"unknown creation time", testPod(func(p *corev1.Pod) {
			p.CreationTimestamp = metav1.Time{}
		}, "web"), wide("web-1", "0/1", "Running", "0", "<unknown>")},
	}
	checkRows(t, schema.GroupResource{Resource: "pods"}, podColumns, cases)
}

func TestPodRowConditions(t *testing.T) {
	fixClock(t)
	tests := []struct {
		phase corev1.PodPhase
		want  []metav1.TableRowCondition
	}{
		{corev1.PodRunning, nil},
		{corev1.PodSucceeded, []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "The pod has completed successfully."}}},
		{corev1.PodFailed, []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: "Failed", Message: "The pod failed."}}},
	}
	for _, tc := range tests {
		t.Run(string(tc.phase), func(t *testing.T) {
			pod := testPod(func(p *corev1.Pod) { p.Status.Phase = tc.phase }, "web")
			table := convert(t, schema.GroupResource{Resource: "pods"}, pod)
			if got := table.Rows[0].Conditions; len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("row conditions = %+v, want %+v", got, tc.want)
			}
		})
	}
}
