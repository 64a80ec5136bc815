package printers

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// testNow is the fixed clock every printer test runs at.
var testNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// fixClock pins the package clock to testNow for the test.
func fixClock(t *testing.T) {
	t.Helper()
	saved := now
	now = func() time.Time { return testNow }
	t.Cleanup(func() { now = saved })
}

// ago is a metav1.Time d before testNow.
func ago(d time.Duration) metav1.Time { return metav1.NewTime(testNow.Add(-d)) }

// microAgo is a metav1.MicroTime d before testNow.
func microAgo(d time.Duration) metav1.MicroTime { return metav1.NewMicroTime(testNow.Add(-d)) }

func ptr[T any](v T) *T { return &v }

// convert runs the resource's TableConvertor on obj with default options.
func convert(t *testing.T, gr schema.GroupResource, obj runtime.Object) *metav1.Table {
	t.Helper()
	table, err := TableConvertor(gr).ConvertToTable(context.Background(), obj, &metav1.TableOptions{})
	if err != nil {
		t.Fatalf("ConvertToTable(%s, %T): %v", gr, obj, err)
	}
	return table
}

// columnSpec renders the columns as kubectl would label them: upper-case names, wide-only ones
// marked "(wide)".
func columnSpec(cols []metav1.TableColumnDefinition) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = strings.ToUpper(c.Name)
		if c.Priority != 0 {
			parts[i] += " (wide)"
		}
	}
	return strings.Join(parts, " | ")
}

// rowCase is one object and the exact cells upstream prints for it.
type rowCase struct {
	name string
	obj  runtime.Object
	want []interface{}
}

// checkRows prints each case through the resource's convertor and compares cells exactly,
// types included (integers are int64, as upstream).
func checkRows(t *testing.T, gr schema.GroupResource, wantColumns string, cases []rowCase) {
	t.Helper()
	fixClock(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			table := convert(t, gr, tc.obj)
			if got := columnSpec(table.ColumnDefinitions); got != wantColumns {
				t.Errorf("columns:\n got %s\nwant %s", got, wantColumns)
			}
			if len(table.Rows) != 1 {
				t.Fatalf("got %d rows, want 1", len(table.Rows))
			}
			row := table.Rows[0]
			if !reflect.DeepEqual(row.Cells, tc.want) {
				t.Errorf("cells:\n got %s\nwant %s", fmtCells(row.Cells), fmtCells(tc.want))
			}
			if row.Object.Object != tc.obj {
				t.Errorf("row object is %p (%T), want the printed object %p", row.Object.Object, row.Object.Object, tc.obj)
			}
		})
	}
}

func fmtCells(cells []interface{}) string {
	parts := make([]string, len(cells))
	for i, c := range cells {
		parts[i] = fmt.Sprintf("%T(%q)", c, fmt.Sprint(c))
	}
	return "[" + strings.Join(parts, " ") + "]"
}
