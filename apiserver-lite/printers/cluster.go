package printers

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

var leaseHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Holder", Type: "string", Description: coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]},
		ageColumn(),
	},
	row: typed(func(obj *coordinationv1.Lease) (metav1.TableRow, error) {
		var holderIdentity string
		if obj.Spec.HolderIdentity != nil {
			holderIdentity = *obj.Spec.HolderIdentity
		}
		return metav1.TableRow{
			Cells:  []interface{}{obj.Name, holderIdentity, translateTimestampSince(obj.CreationTimestamp)},
			Object: runtime.RawExtension{Object: obj},
		}, nil
	}),
}

var runtimeClassHandler = handler{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		// upstream looks "handler" up in ObjectMeta's docs, so the description is empty
		{Name: "Handler", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["handler"]},
		ageColumn(),
	},
	row: typed(func(obj *nodev1.RuntimeClass) (metav1.TableRow, error) {
		return metav1.TableRow{
			Cells:  []interface{}{obj.Name, obj.Handler, translateTimestampSince(obj.CreationTimestamp)},
			Object: runtime.RawExtension{Object: obj},
		}, nil
	}),
}
