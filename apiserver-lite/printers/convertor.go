package printers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
)

// handler prints one resource: every column upstream defines for it (wide ones carry Priority 1)
// and one row per object.
type handler struct {
	columns []metav1.TableColumnDefinition
	row     func(obj runtime.Object) (metav1.TableRow, error)
}

// typed adapts a printer for one concrete type to handler.row.
func typed[T runtime.Object](print func(T) (metav1.TableRow, error)) func(runtime.Object) (metav1.TableRow, error) {
	return func(obj runtime.Object) (metav1.TableRow, error) {
		t, ok := obj.(T)
		if !ok {
			return metav1.TableRow{}, fmt.Errorf("no table handler registered for this type %T", obj)
		}
		return print(t)
	}
}

// handlers maps each resource with a printer to it.
var handlers = map[schema.GroupResource]handler{
	{Resource: "pods"}:                                       podHandler,
	{Resource: "services"}:                                   serviceHandler,
	{Resource: "endpoints"}:                                  endpointsHandler,
	{Resource: "nodes"}:                                      nodeHandler,
	{Resource: "namespaces"}:                                 namespaceHandler,
	{Resource: "configmaps"}:                                 configMapHandler,
	{Resource: "secrets"}:                                    secretHandler,
	{Resource: "serviceaccounts"}:                            serviceAccountHandler,
	{Resource: "events"}:                                     eventHandler,
	{Group: "events.k8s.io", Resource: "events"}:             eventHandler,
	{Group: "apps", Resource: "deployments"}:                 deploymentHandler,
	{Group: "apps", Resource: "replicasets"}:                 replicaSetHandler,
	{Group: "apps", Resource: "daemonsets"}:                  daemonSetHandler,
	{Group: "apps", Resource: "statefulsets"}:                statefulSetHandler,
	{Group: "apps", Resource: "controllerrevisions"}:         controllerRevisionHandler,
	{Group: "discovery.k8s.io", Resource: "endpointslices"}:  endpointSliceHandler,
	{Group: "networking.k8s.io", Resource: "ingresses"}:      ingressHandler,
	{Group: "networking.k8s.io", Resource: "ingressclasses"}: ingressClassHandler,
	{Group: "networking.k8s.io", Resource: "servicecidrs"}:   serviceCIDRHandler,
	{Group: "networking.k8s.io", Resource: "ipaddresses"}:    ipAddressHandler,
	{Group: "coordination.k8s.io", Resource: "leases"}:       leaseHandler,
	{Group: "node.k8s.io", Resource: "runtimeclasses"}:       runtimeClassHandler,
}

// TableConvertor returns the rest.TableConvertor for a group-resource: upstream's printer columns
// and cells where svclab has a printer for it, rest.NewDefaultTableConvertor(gr) (NAME, CREATED AT)
// otherwise. Like kube-apiserver it always produces the wide columns; kubectl drops the
// Priority 1 ones unless asked for -o wide.
func TableConvertor(gr schema.GroupResource) rest.TableConvertor {
	h, ok := handlers[gr]
	if !ok {
		return rest.NewDefaultTableConvertor(gr)
	}
	return tableConvertor{handler: h}
}

// tableConvertor is upstream's pkg/printers/storage.TableConvertor over one handler.
type tableConvertor struct {
	handler handler
}

var _ rest.TableConvertor = tableConvertor{}

// ConvertToTable prints obj, a single object or a list of them, honouring TableOptions.NoHeaders.
func (c tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	noHeaders := false
	if tableOptions != nil {
		switch t := tableOptions.(type) {
		case *metav1.TableOptions:
			if t != nil {
				noHeaders = t.NoHeaders
			}
		default:
			return nil, fmt.Errorf("unrecognized type %T for table options, can't display tabular output", tableOptions)
		}
	}
	return c.handler.generate(obj, noHeaders)
}

// generate builds the table the way upstream's HumanReadableGenerator.GenerateTable does.
func (h handler) generate(obj runtime.Object, noHeaders bool) (*metav1.Table, error) {
	var rows []metav1.TableRow
	if meta.IsListType(obj) {
		items, err := meta.ExtractList(obj)
		if err != nil {
			return nil, fmt.Errorf("extract items of %T: %w", obj, err)
		}
		rows = make([]metav1.TableRow, 0, len(items))
		for _, item := range items {
			row, err := h.row(item)
			if err != nil {
				return nil, err
			}
			rows = append(rows, row)
		}
	} else {
		row, err := h.row(obj)
		if err != nil {
			return nil, err
		}
		rows = []metav1.TableRow{row}
	}

	table := &metav1.Table{Rows: rows}
	if !noHeaders {
		table.ColumnDefinitions = append([]metav1.TableColumnDefinition(nil), h.columns...)
	}
	if m, err := meta.ListAccessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
		table.Continue = m.GetContinue()
		table.RemainingItemCount = m.GetRemainingItemCount()
	} else if m, err := meta.CommonAccessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
	}
	return table, nil
}
