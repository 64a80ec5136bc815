package printers

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var podsGR = schema.GroupResource{Resource: "pods"}

func TestConvertListCopiesListMeta(t *testing.T) {
	fixClock(t)
	list := &corev1.PodList{
		ListMeta: metav1.ListMeta{ResourceVersion: "4711", Continue: "next-page", RemainingItemCount: ptr(int64(7))},
		Items: []corev1.Pod{
			*testPod(func(p *corev1.Pod) { p.Name = "a" }, "web"),
			*testPod(func(p *corev1.Pod) { p.Name = "b" }, "web"),
		},
	}
	table := convert(t, podsGR, list)
	if table.ResourceVersion != "4711" || table.Continue != "next-page" || table.RemainingItemCount == nil || *table.RemainingItemCount != 7 {
		t.Errorf("list meta = %+v, want resourceVersion 4711, continue next-page, remainingItemCount 7", table.ListMeta)
	}
	if len(table.Rows) != 2 {
		t.Fatalf("got %d rows, want 2", len(table.Rows))
	}
	for i, row := range table.Rows {
		if row.Object.Object != &list.Items[i] {
			t.Errorf("row %d object = %p, want &list.Items[%d]", i, row.Object.Object, i)
		}
		if row.Cells[0] != list.Items[i].Name {
			t.Errorf("row %d name = %v, want %s", i, row.Cells[0], list.Items[i].Name)
		}
	}
}

func TestConvertEmptyListHasEmptyRows(t *testing.T) {
	table := convert(t, podsGR, &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "9"}})
	if table.Rows == nil || len(table.Rows) != 0 {
		t.Errorf("rows = %#v, want an empty, non-nil slice (serialised as [])", table.Rows)
	}
	if table.ResourceVersion != "9" {
		t.Errorf("resourceVersion = %q, want 9", table.ResourceVersion)
	}
}

func TestConvertSingleObjectUsesItsResourceVersion(t *testing.T) {
	fixClock(t)
	pod := testPod(func(p *corev1.Pod) { p.ResourceVersion = "123" }, "web")
	table := convert(t, podsGR, pod)
	if table.ResourceVersion != "123" || table.Continue != "" || table.RemainingItemCount != nil {
		t.Errorf("list meta = %+v, want only resourceVersion 123", table.ListMeta)
	}
}

func TestConvertTableOptions(t *testing.T) {
	fixClock(t)
	pod := testPod(func(*corev1.Pod) {}, "web")
	tests := []struct {
		name        string
		opts        runtime.Object
		wantHeaders bool
		wantErr     string
	}{
		{"nil options", nil, true, ""},
		{"typed nil options", (*metav1.TableOptions)(nil), true, ""},
		{"headers", &metav1.TableOptions{}, true, ""},
		{"no headers", &metav1.TableOptions{NoHeaders: true}, false, ""},
		{"foreign options", &metav1.ListOptions{}, false, "unrecognized type *v1.ListOptions for table options, can't display tabular output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table, err := TableConvertor(podsGR).ConvertToTable(context.Background(), pod, tc.opts)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := len(table.ColumnDefinitions) > 0; got != tc.wantHeaders {
				t.Errorf("has headers = %v, want %v", got, tc.wantHeaders)
			}
			if len(table.Rows) != 1 || len(table.Rows[0].Cells) != 9 {
				t.Errorf("rows = %+v, want one row of 9 cells whatever the headers", table.Rows)
			}
		})
	}
}

func TestPodColumnDefinitionsExact(t *testing.T) {
	table := convert(t, podsGR, &corev1.PodList{})
	want := []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
		{Name: "Ready", Type: "string", Description: "The aggregate readiness state of this pod for accepting traffic."},
		{Name: "Status", Type: "string", Description: "The aggregate status of the containers in this pod."},
		{Name: "Restarts", Type: "string", Description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."},
		{Name: "Age", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
		{Name: "IP", Type: "string", Priority: 1, Description: corev1.PodStatus{}.SwaggerDoc()["podIP"]},
		{Name: "Node", Type: "string", Priority: 1, Description: corev1.PodSpec{}.SwaggerDoc()["nodeName"]},
		{Name: "Nominated Node", Type: "string", Priority: 1, Description: corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"]},
		{Name: "Readiness Gates", Type: "string", Priority: 1, Description: corev1.PodSpec{}.SwaggerDoc()["readinessGates"]},
	}
	if !reflect.DeepEqual(table.ColumnDefinitions, want) {
		t.Errorf("pod columns:\n got %+v\nwant %+v", table.ColumnDefinitions, want)
	}
	if want[0].Description == "" || want[5].Description == "" {
		t.Fatal("swagger docs are empty: the descriptions would not match upstream's")
	}

	// The columns handed out are a copy: a caller editing them must not change the next table.
	table.ColumnDefinitions[0].Name = "Changed"
	if again := convert(t, podsGR, &corev1.PodList{}); again.ColumnDefinitions[0].Name != "Name" {
		t.Errorf("column definitions are shared between tables")
	}
}

func TestFallbackToDefaultConvertor(t *testing.T) {
	gr := schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "roles"}
	obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}}
	table := convert(t, gr, obj)
	if got := columnSpec(table.ColumnDefinitions); got != "NAME | CREATED AT" {
		t.Errorf("columns = %s, want the default NAME | CREATED AT", got)
	}
	if want := []interface{}{"x", "2026-01-02T03:04:05Z"}; !reflect.DeepEqual(table.Rows[0].Cells, want) {
		t.Errorf("cells = %v, want %v", table.Rows[0].Cells, want)
	}
}

func TestWrongObjectTypeIsAnError(t *testing.T) {
	_, err := TableConvertor(podsGR).ConvertToTable(context.Background(), &corev1.Service{}, nil)
	if err == nil || !strings.Contains(err.Error(), "*v1.Service") {
		t.Errorf("err = %v, want an error naming *v1.Service", err)
	}
	_, err = TableConvertor(podsGR).ConvertToTable(context.Background(), &corev1.ServiceList{Items: []corev1.Service{{}}}, nil)
	if err == nil {
		t.Error("a list of the wrong type converted without error")
	}
}

// TestEveryPrinterFillsItsColumns prints an empty object of every resource and checks the row
// has one cell per column (upstream's ipaddresses printer is the one known exception).
func TestEveryPrinterFillsItsColumns(t *testing.T) {
	fixClock(t)
	objects := map[schema.GroupResource]runtime.Object{
		{Resource: "pods"}:                                       &corev1.Pod{},
		{Resource: "services"}:                                   &corev1.Service{},
		{Resource: "endpoints"}:                                  &corev1.Endpoints{},
		{Resource: "nodes"}:                                      &corev1.Node{},
		{Resource: "namespaces"}:                                 &corev1.Namespace{},
		{Resource: "configmaps"}:                                 &corev1.ConfigMap{},
		{Resource: "secrets"}:                                    &corev1.Secret{},
		{Resource: "serviceaccounts"}:                            &corev1.ServiceAccount{},
		{Resource: "events"}:                                     &corev1.Event{},
		{Group: "events.k8s.io", Resource: "events"}:             &eventsv1.Event{},
		{Group: "apps", Resource: "deployments"}:                 &appsv1.Deployment{},
		{Group: "apps", Resource: "replicasets"}:                 &appsv1.ReplicaSet{},
		{Group: "apps", Resource: "daemonsets"}:                  &appsv1.DaemonSet{},
		{Group: "apps", Resource: "statefulsets"}:                &appsv1.StatefulSet{},
		{Group: "apps", Resource: "controllerrevisions"}:         &appsv1.ControllerRevision{},
		{Group: "discovery.k8s.io", Resource: "endpointslices"}:  &discoveryv1.EndpointSlice{},
		{Group: "networking.k8s.io", Resource: "ingresses"}:      &networkingv1.Ingress{},
		{Group: "networking.k8s.io", Resource: "ingressclasses"}: &networkingv1.IngressClass{},
		{Group: "networking.k8s.io", Resource: "servicecidrs"}:   &networkingv1.ServiceCIDR{},
		{Group: "networking.k8s.io", Resource: "ipaddresses"}:    &networkingv1.IPAddress{},
		{Group: "coordination.k8s.io", Resource: "leases"}:       &coordinationv1.Lease{},
		{Group: "node.k8s.io", Resource: "runtimeclasses"}:       &nodev1.RuntimeClass{},
	}
	if len(objects) != len(handlers) {
		t.Errorf("test covers %d resources, %d have printers", len(objects), len(handlers))
	}
	for gr, obj := range objects {
		if _, ok := handlers[gr]; !ok {
			t.Errorf("%s has no printer", gr)
			continue
		}
		table := convert(t, gr, obj)
		wantCells := len(table.ColumnDefinitions)
		if gr.Resource == "ipaddresses" {
			wantCells++ // upstream prints an age cell without an AGE column
		}
		if got := len(table.Rows[0].Cells); got != wantCells {
			t.Errorf("%s: %d cells for %d columns", gr, got, len(table.ColumnDefinitions))
		}
		if table.ColumnDefinitions[0].Format != "name" && table.ColumnDefinitions[0].Name != "Last Seen" {
			t.Errorf("%s: first column %q is not the name column", gr, table.ColumnDefinitions[0].Name)
		}
	}
}
