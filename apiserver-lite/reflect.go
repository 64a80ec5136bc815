package apiserver

import (
	"reflect"

	"k8s.io/apimachinery/pkg/runtime"
)

// reflectNew returns a new zero value of the struct type t as a runtime.Object.
func reflectNew(t reflect.Type) runtime.Object {
	return reflect.New(t).Interface().(runtime.Object)
}
