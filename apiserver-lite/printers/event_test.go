package printers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const eventColumns = "LAST SEEN | TYPE | REASON | OBJECT | SUBOBJECT (wide) | SOURCE (wide) | MESSAGE | FIRST SEEN (wide) | COUNT (wide) | NAME (wide)"

func TestPrintCoreEvent(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "web-1.17f0a", Namespace: "default"}
	cases := []rowCase{
		{"kubelet back-off", &corev1.Event{
			ObjectMeta:     meta,
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-1", FieldPath: "spec.containers{web}"},
			Reason:         "BackOff", Type: corev1.EventTypeWarning, Count: 5,
			Message:        "Back-off restarting failed container web in pod web-1_default\n",
			Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
			FirstTimestamp: ago(10 * time.Minute), LastTimestamp: ago(2 * time.Minute),
		}, []interface{}{"2m", "Warning", "BackOff", "pod/web-1", "spec.containers{web}", "kubelet, node-1",
			"Back-off restarting failed container web in pod web-1_default", "10m", int64(5), "web-1.17f0a"}},

		{"new-style singleton event", &corev1.Event{
			ObjectMeta:     meta,
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-1"},
			Reason:         "Scheduled", Type: corev1.EventTypeNormal, Message: "Successfully assigned default/web-1 to node-1",
			EventTime:           microAgo(30 * time.Second),
			ReportingController: "svclab-scheduler", ReportingInstance: "svclab-scheduler-lab",
		}, []interface{}{"30s", "Normal", "Scheduled", "pod/web-1", "", "svclab-scheduler, svclab-scheduler-lab",
			"Successfully assigned default/web-1 to node-1", "30s", int64(1), "web-1.17f0a"}},

		{"series", &corev1.Event{
			ObjectMeta:     meta,
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-1"},
			Reason:         "Unhealthy", Type: corev1.EventTypeWarning, Message: "Readiness probe failed",
			EventTime:           microAgo(10 * time.Minute),
			Series:              &corev1.EventSeries{Count: 4, LastObservedTime: microAgo(time.Minute)},
			ReportingController: "kubelet",
		}, []interface{}{"60s", "Warning", "Unhealthy", "pod/web-1", "", "kubelet", "Readiness probe failed", "10m", int64(4), "web-1.17f0a"}},

		{"object without a name and no times", &corev1.Event{
			ObjectMeta:     meta,
			InvolvedObject: corev1.ObjectReference{Kind: "Node"},
			Reason:         "Starting", Type: corev1.EventTypeNormal, Count: 2,
		}, []interface{}{"<unknown>", "Normal", "Starting", "node", "", "", "", "<unknown>", int64(2), "web-1.17f0a"}},
	}
	checkRows(t, schema.GroupResource{Resource: "events"}, eventColumns, cases)
}

func TestPrintEventsV1Event(t *testing.T) {
	cases := []rowCase{
		{"deployment controller", &eventsv1.Event{
			ObjectMeta:               metav1.ObjectMeta{Name: "web.18a", Namespace: "default"},
			Regarding:                corev1.ObjectReference{Kind: "Deployment", Name: "web", APIVersion: "apps/v1"},
			Reason:                   "ScalingReplicaSet",
			Type:                     corev1.EventTypeNormal,
			Note:                     "Scaled up replica set web-5d4f8 from 0 to 3",
			ReportingController:      "deployment-controller",
			DeprecatedSource:         corev1.EventSource{Component: "deployment-controller"},
			DeprecatedFirstTimestamp: ago(3 * time.Minute),
			DeprecatedLastTimestamp:  ago(3 * time.Minute),
			DeprecatedCount:          1,
		}, []interface{}{"3m", "Normal", "ScalingReplicaSet", "deployment/web", "", "deployment-controller",
			"Scaled up replica set web-5d4f8 from 0 to 3", "3m", int64(1), "web.18a"}},

		{"series from the events API", &eventsv1.Event{
			ObjectMeta:          metav1.ObjectMeta{Name: "web-1.18b", Namespace: "default"},
			Regarding:           corev1.ObjectReference{Kind: "Pod", Name: "web-1"},
			Reason:              "BackOff",
			Type:                corev1.EventTypeWarning,
			Note:                "Back-off pulling image",
			EventTime:           microAgo(20 * time.Minute),
			Series:              &eventsv1.EventSeries{Count: 7, LastObservedTime: microAgo(15 * time.Second)},
			ReportingController: "kubelet", ReportingInstance: "node-2",
		}, []interface{}{"15s", "Warning", "BackOff", "pod/web-1", "", "kubelet, node-2", "Back-off pulling image", "20m", int64(7), "web-1.18b"}},
	}
	checkRows(t, schema.GroupResource{Group: "events.k8s.io", Resource: "events"}, eventColumns, cases)
}
