package deployment

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/svclab/svclab/lab/controller/controllerutil"
)

func TestNewDeploymentCreatesHashedReplicaSet(t *testing.T) {
	d := newDeployment("web", 3, "nginx:1")
	d.Annotations = map[string]string{ChangeCauseAnnotation: "kubectl create deployment web --image=nginx:1"}
	h := newHarness(t, d)
	h.syncD("web")

	hash := controllerutil.ComputeHash(&d.Spec.Template, nil)
	sets := h.replicaSets()
	if len(sets) != 1 {
		t.Fatalf("got %d replica sets, want 1", len(sets))
	}
	rs := sets[0]
	if rs.Name != "web-"+hash {
		t.Errorf("name = %s, want web-%s", rs.Name, hash)
	}
	if rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
		t.Errorf("pod-template-hash missing from labels/selector/template: %v %v", rs.Labels, rs.Spec.Selector)
	}
	wantAnn := map[string]string{
		RevisionAnnotation:        "1",
		DesiredReplicasAnnotation: "3",
		MaxReplicasAnnotation:     "4",
		ChangeCauseAnnotation:     "kubectl create deployment web --image=nginx:1",
	}
	for k, v := range wantAnn {
		if rs.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, rs.Annotations[k], v)
		}
	}
	// maxSurge 1 with 0 existing pods: the first step may create replicas+surge-current = 3.
	if *rs.Spec.Replicas != 3 {
		t.Errorf("replicas = %d, want 3", *rs.Spec.Replicas)
	}
	ref := rs.OwnerReferences[0]
	if ref.Kind != "Deployment" || ref.Name != "web" || !*ref.Controller || !*ref.BlockOwnerDeletion {
		t.Errorf("bad owner ref %+v", ref)
	}
	if ev := h.events(); !slices.Contains(ev, "Normal ScalingReplicaSet Scaled up replica set web-"+hash+" from 0 to 3") {
		t.Errorf("events = %q", ev)
	}
	got := h.deployment("web")
	if got.Annotations[RevisionAnnotation] != "1" {
		t.Errorf("deployment revision = %q", got.Annotations[RevisionAnnotation])
	}
	cond := GetDeploymentCondition(got.Status, appsv1.DeploymentProgressing)
	if cond == nil || cond.Reason != NewReplicaSetReason || cond.Message != `Created new replica set "web-`+hash+`"` {
		t.Errorf("progressing condition = %+v", cond)
	}
}

func TestComputeHashStable(t *testing.T) {
	a := newDeployment("web", 1, "nginx:1").Spec.Template
	b := newDeployment("web", 1, "nginx:1").Spec.Template
	c := newDeployment("web", 1, "nginx:2").Spec.Template
	ha, hb, hc := controllerutil.ComputeHash(&a, nil), controllerutil.ComputeHash(&b, nil), controllerutil.ComputeHash(&c, nil)
	hCollide := controllerutil.ComputeHash(&a, ptr.To[int32](1))
	if ha != hb {
		t.Errorf("equal templates hash differently: %s vs %s", ha, hb)
	}
	if ha == hc || ha == hCollide {
		t.Errorf("distinct inputs share a hash: %s %s %s", ha, hc, hCollide)
	}
	if !regexp.MustCompile(`^[bcdfghjklmnpqrstvwxz2456789]{1,10}$`).MatchString(ha) {
		t.Errorf("hash %q is not a SafeEncodeString of a uint32", ha)
	}
}

func TestRollingUpdate(t *testing.T) {
	tests := []struct {
		name               string
		replicas           int32
		surge, unavailable intstr.IntOrString
		maxTotal, minReady int
		firstEvents        []string
	}{
		{
			name: "surge 1 unavailable 1", replicas: 4,
			surge: intstr.FromInt32(1), unavailable: intstr.FromInt32(1),
			maxTotal: 5, minReady: 3,
			firstEvents: []string{"Scaled up replica set NEW from 0 to 1", "Scaled down replica set OLD from 4 to 3"},
		},
		{
			name: "default 25% rounds surge up and unavailable down", replicas: 4,
			surge: intstr.FromString("25%"), unavailable: intstr.FromString("25%"),
			maxTotal: 5, minReady: 3,
			firstEvents: []string{"Scaled up replica set NEW from 0 to 1", "Scaled down replica set OLD from 4 to 3"},
		},
		{
			name: "surge only keeps full availability", replicas: 3,
			surge: intstr.FromInt32(1), unavailable: intstr.FromInt32(0),
			maxTotal: 4, minReady: 3,
			firstEvents: []string{"Scaled up replica set NEW from 0 to 1"},
		},
		{
			name: "unavailable only never surges", replicas: 3,
			surge: intstr.FromInt32(0), unavailable: intstr.FromString("50%"),
			maxTotal: 3, minReady: 2,
			firstEvents: []string{"Scaled down replica set OLD from 3 to 2", "Scaled up replica set NEW from 0 to 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDeployment("web", tt.replicas, "nginx:1")
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &tt.surge, MaxUnavailable: &tt.unavailable}
			h := newHarness(t, d)
			h.rollout("web", 0, 0, 10)
			oldRS := h.rsByImage("nginx:1")
			h.events()

			h.update("web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:2" })
			h.rollout("web", tt.maxTotal, tt.minReady, 20)

			newRS := h.rsByImage("nginx:2")
			if newRS == nil || *newRS.Spec.Replicas != tt.replicas || newRS.Annotations[RevisionAnnotation] != "2" {
				t.Fatalf("new replica set = %+v", newRS)
			}
			if old := h.rsByImage("nginx:1"); *old.Spec.Replicas != 0 || old.Annotations[RevisionAnnotation] != "1" {
				t.Errorf("old replica set not scaled down: replicas=%d rev=%s", *old.Spec.Replicas, old.Annotations[RevisionAnnotation])
			}
			var scaling []string
			for _, e := range h.events() {
				e = strings.ReplaceAll(e, newRS.Name, "NEW")
				scaling = append(scaling, strings.TrimPrefix(strings.ReplaceAll(e, oldRS.Name, "OLD"), "Normal ScalingReplicaSet "))
			}
			if len(scaling) < len(tt.firstEvents) || !slices.Equal(scaling[:len(tt.firstEvents)], tt.firstEvents) {
				t.Errorf("events = %q, want prefix %q", scaling, tt.firstEvents)
			}
			got := h.deployment("web")
			st := got.Status
			if st.Replicas != tt.replicas || st.UpdatedReplicas != tt.replicas || st.AvailableReplicas != tt.replicas ||
				st.ReadyReplicas != tt.replicas || st.UnavailableReplicas != 0 || st.ObservedGeneration != 2 {
				t.Errorf("status = %+v", st)
			}
			if got.Annotations[RevisionAnnotation] != "2" {
				t.Errorf("deployment revision = %q, want 2", got.Annotations[RevisionAnnotation])
			}
			avail := GetDeploymentCondition(st, appsv1.DeploymentAvailable)
			if avail == nil || avail.Status != corev1.ConditionTrue || avail.Reason != MinimumReplicasAvailable || avail.Message != "Deployment has minimum availability." {
				t.Errorf("available condition = %+v", avail)
			}
			prog := GetDeploymentCondition(st, appsv1.DeploymentProgressing)
			if prog == nil || prog.Message != `ReplicaSet "`+newRS.Name+`" has successfully progressed.` {
				t.Errorf("progressing condition = %+v", prog)
			}
		})
	}
}

func TestRecreate(t *testing.T) {
	d := newDeployment("web", 2, "nginx:1")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	h := newHarness(t, d)
	h.rollout("web", 2, 0, 5)
	oldRS := h.rsByImage("nginx:1")
	h.events()

	h.update("web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:2" })
	h.syncD("web")
	if h.rsByImage("nginx:2") != nil {
		t.Fatal("new replica set created before old pods are gone")
	}
	if got := *h.rsByImage("nginx:1").Spec.Replicas; got != 0 {
		t.Fatalf("old replicas = %d, want 0", got)
	}
	// Old pods still exist (the ReplicaSet controller has not run): still no new ReplicaSet.
	h.syncD("web")
	if h.rsByImage("nginx:2") != nil {
		t.Fatal("new replica set created while old pods still run")
	}
	h.simulateRS()
	h.syncD("web")
	newRS := h.rsByImage("nginx:2")
	if newRS == nil || *newRS.Spec.Replicas != 2 {
		t.Fatalf("new replica set = %+v", newRS)
	}
	want := []string{
		"Normal ScalingReplicaSet Scaled down replica set " + oldRS.Name + " from 2 to 0",
		"Normal ScalingReplicaSet Scaled up replica set " + newRS.Name + " from 0 to 2",
	}
	if ev := h.events(); !slices.Equal(ev, want) {
		t.Errorf("events = %q, want %q", ev, want)
	}
	h.rollout("web", 2, 0, 5)
}

func TestRollbackReusesRevision(t *testing.T) {
	h := newHarness(t, newDeployment("web", 2, "nginx:1"))
	h.rollout("web", 0, 0, 10)
	setImage := func(image string) {
		h.update("web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = image })
		h.rollout("web", 0, 0, 20)
	}
	setImage("nginx:2")
	// kubectl rollout undo copies the old ReplicaSet's template back into the Deployment.
	setImage("nginx:1")
	if n := len(h.replicaSets()); n != 2 {
		t.Fatalf("rollback created a new replica set: %d sets", n)
	}
	v1 := h.rsByImage("nginx:1")
	if v1.Annotations[RevisionAnnotation] != "3" || v1.Annotations[RevisionHistoryAnnotation] != "1" {
		t.Errorf("v1 annotations = %v, want revision 3, history 1", v1.Annotations)
	}
	if got := h.deployment("web").Annotations[RevisionAnnotation]; got != "3" {
		t.Errorf("deployment revision = %q, want 3", got)
	}
	setImage("nginx:2")
	setImage("nginx:1")
	v1 = h.rsByImage("nginx:1")
	if v1.Annotations[RevisionAnnotation] != "5" || v1.Annotations[RevisionHistoryAnnotation] != "1,3" {
		t.Errorf("v1 annotations = %v, want revision 5, history 1,3", v1.Annotations)
	}
	if v2 := h.rsByImage("nginx:2"); v2.Annotations[RevisionAnnotation] != "4" || v2.Annotations[RevisionHistoryAnnotation] != "2" {
		t.Errorf("v2 annotations = %v, want revision 4, history 2", v2.Annotations)
	}
}

func TestScaleAndPause(t *testing.T) {
	h := newHarness(t, newDeployment("web", 3, "nginx:1"))
	h.rollout("web", 0, 0, 10)
	rs := h.rsByImage("nginx:1")
	h.events()

	h.update("web", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](5) })
	h.syncD("web")
	rs = h.rsByImage("nginx:1")
	if *rs.Spec.Replicas != 5 || rs.Annotations[DesiredReplicasAnnotation] != "5" || rs.Annotations[MaxReplicasAnnotation] != "6" {
		t.Errorf("after scale: replicas=%d annotations=%v", *rs.Spec.Replicas, rs.Annotations)
	}
	if ev := h.events(); !slices.Equal(ev, []string{"Normal ScalingReplicaSet Scaled up replica set " + rs.Name + " from 3 to 5"}) {
		t.Errorf("events = %q", ev)
	}
	h.rollout("web", 0, 0, 5)

	h.update("web", func(d *appsv1.Deployment) {
		d.Spec.Paused = true
		d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	})
	h.syncD("web")
	if h.rsByImage("nginx:2") != nil {
		t.Error("paused deployment started a rollout")
	}
	cond := GetDeploymentCondition(h.deployment("web").Status, appsv1.DeploymentProgressing)
	if cond == nil || cond.Status != corev1.ConditionUnknown || cond.Reason != PausedDeployReason || cond.Message != "Deployment is paused" {
		t.Errorf("progressing condition = %+v", cond)
	}
	h.update("web", func(d *appsv1.Deployment) { d.Spec.Paused = false })
	h.rollout("web", 6, 4, 20)
	if rs := h.rsByImage("nginx:2"); rs == nil || *rs.Spec.Replicas != 5 {
		t.Errorf("resumed rollout did not finish: %+v", rs)
	}
}

func TestProportionalScalingDuringRollout(t *testing.T) {
	d := newDeployment("web", 10, "nginx:1")
	surge, unavail := intstr.FromInt32(3), intstr.FromInt32(2)
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavail}
	h := newHarness(t, d)
	h.rollout("web", 0, 0, 10)
	h.update("web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:2" })
	h.syncD("web") // one sync: new RS 0->3 (surge), old RS 10->8 (unavailable budget)
	h.simulateRS()
	oldN, newN := *h.rsByImage("nginx:1").Spec.Replicas, *h.rsByImage("nginx:2").Spec.Replicas
	if oldN != 8 || newN != 3 {
		t.Fatalf("mid-rollout sizes old=%d new=%d, want 8 and 3", oldN, newN)
	}
	// kubectl scale to 20 mid-rollout: 11 -> 23 (20+surge) pods, 12 more split by each set's
	// share of the old max (13): old +round(8*23/13)-8=6, new +round(3*23/13)-3=2, and the
	// leftover 4 goes to the largest set.
	h.update("web", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](20) })
	h.syncD("web")
	oldN, newN = *h.rsByImage("nginx:1").Spec.Replicas, *h.rsByImage("nginx:2").Spec.Replicas
	if oldN != 18 || newN != 5 {
		t.Errorf("after scale old=%d new=%d, want 18 and 5", oldN, newN)
	}
	h.rollout("web", 23, 8, 30)
	if n := *h.rsByImage("nginx:2").Spec.Replicas; n != 20 {
		t.Errorf("final new replicas = %d, want 20", n)
	}
}

func TestRevisionHistoryLimit(t *testing.T) {
	d := newDeployment("web", 1, "nginx:1")
	d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	h := newHarness(t, d)
	h.rollout("web", 0, 0, 10)
	for _, img := range []string{"nginx:2", "nginx:3"} {
		h.update("web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = img })
		h.rollout("web", 0, 0, 20)
	}
	h.syncD("web")
	var images []string
	for _, rs := range h.replicaSets() {
		images = append(images, rs.Spec.Template.Spec.Containers[0].Image)
	}
	slices.Sort(images)
	if !slices.Equal(images, []string{"nginx:2", "nginx:3"}) {
		t.Errorf("kept replica sets %v, want nginx:2 and nginx:3", images)
	}
}

func TestProgressDeadlineExceeded(t *testing.T) {
	d := newDeployment("web", 2, "nginx:1")
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](10)
	h := newHarness(t, d)
	h.syncD("web")
	h.simulateRS() // pods never become ready
	h.syncD("web")
	defer func(f func() time.Time) { nowFn = f }(nowFn)
	nowFn = func() time.Time { return time.Now().Add(time.Minute) }
	h.syncD("web")
	st := h.deployment("web").Status
	rs := h.replicaSets()[0]
	prog := GetDeploymentCondition(st, appsv1.DeploymentProgressing)
	if prog == nil || prog.Status != corev1.ConditionFalse || prog.Reason != TimedOutReason ||
		prog.Message != `ReplicaSet "`+rs.Name+`" has timed out progressing.` {
		t.Errorf("progressing condition = %+v", prog)
	}
	avail := GetDeploymentCondition(st, appsv1.DeploymentAvailable)
	if avail == nil || avail.Status != corev1.ConditionFalse || avail.Reason != MinimumReplicasUnavailable ||
		avail.Message != "Deployment does not have minimum availability." {
		t.Errorf("available condition = %+v", avail)
	}
	if st.UnavailableReplicas != 2 {
		t.Errorf("unavailableReplicas = %d, want 2", st.UnavailableReplicas)
	}
}
