package grade

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/svclab/svclab/exercises"
)

// resourceFor resolves "services", "Service", "svc" or "deployments.apps" to a resource
// and whether it is namespaced.
func (g *Grader) resourceFor(resource string) (schema.GroupVersionResource, bool, error) {
	expander := restmapper.NewShortcutExpander(g.mapper, g.disc, nil)
	gr := schema.ParseGroupResource(strings.ToLower(resource))
	gvr, err := expander.ResourceFor(gr.WithVersion(""))
	if err != nil {
		g.mapper.Reset()
		if gvr, err = expander.ResourceFor(gr.WithVersion("")); err != nil {
			return gvr, false, fmt.Errorf("resource %q: %v", resource, err)
		}
	}
	kind, err := g.mapper.KindFor(gvr)
	if err != nil {
		return gvr, false, err
	}
	m, err := g.mapper.RESTMapping(kind.GroupKind(), kind.Version)
	if err != nil {
		return gvr, false, err
	}
	return gvr, m.Scope.Name() == "namespace", nil
}

func (g *Grader) resourceClient(resource, ns string) (dynamic.ResourceInterface, error) {
	gvr, namespaced, err := g.resourceFor(resource)
	if err != nil {
		return nil, err
	}
	if namespaced {
		return g.dyn.Resource(gvr).Namespace(ns), nil
	}
	return g.dyn.Resource(gvr), nil
}

func (g *Grader) getObject(ctx context.Context, resource, ns, name string) (*unstructured.Unstructured, error) {
	rc, err := g.resourceClient(resource, ns)
	if err != nil {
		return nil, err
	}
	obj, err := rc.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", resource, qualified(ns, name), shortErr(err))
	}
	return obj, nil
}

func qualified(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

func nsOf(e *exercises.Exercise, override *string) string {
	if override != nil {
		return *override
	}
	return e.Namespace
}

func (g *Grader) checkObject(ctx context.Context, e *exercises.Exercise, o *exercises.ObjectCheck) CheckResult {
	ns := nsOf(e, o.Namespace)
	rc, err := g.resourceClient(o.Resource, ns)
	if err != nil {
		return errored(err)
	}
	if o.Name != "" {
		obj, err := rc.Get(ctx, o.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err) && o.Absent:
			return passed("%s %s does not exist", o.Resource, qualified(ns, o.Name))
		case apierrors.IsNotFound(err):
			return failed("%s %s not found", o.Resource, qualified(ns, o.Name))
		case err != nil:
			return errored(fmt.Errorf("get %s %s: %v", o.Resource, qualified(ns, o.Name), shortErr(err)))
		case o.Absent:
			return failed("%s %s still exists", o.Resource, qualified(ns, o.Name))
		}
		if msg := expectAll(obj, o.Expect); msg != "" {
			return failed("%s %s: %s", o.Resource, qualified(ns, o.Name), msg)
		}
		return passed("%s %s: %s", o.Resource, qualified(ns, o.Name), okSummary(o.Expect))
	}
	list, err := rc.List(ctx, metav1.ListOptions{LabelSelector: o.Selector})
	if err != nil {
		return errored(fmt.Errorf("list %s %s: %v", o.Resource, o.Selector, shortErr(err)))
	}
	matching := 0
	var bad []string
	for i := range list.Items {
		if msg := expectAll(&list.Items[i], o.Expect); msg != "" {
			bad = append(bad, list.Items[i].GetName()+": "+msg)
			continue
		}
		matching++
	}
	count := o.Count
	if !count.IsSet() {
		count = exercises.Count{Op: ">=", N: 1}
	}
	if !count.Match(matching) {
		msg := fmt.Sprintf("%d %s match %q and the expectations, want %s", matching, o.Resource, o.Selector, count)
		if len(bad) > 0 {
			msg += " (" + strings.Join(bad, "; ") + ")"
		}
		return failed("%s", msg)
	}
	return passed("%d %s match %q", matching, o.Resource, o.Selector)
}

func okSummary(expect []string) string {
	if len(expect) == 0 {
		return "exists"
	}
	return strings.Join(expect, ", ")
}

// expectAll returns "" when obj meets every expectation, or what it saw for the first
// that fails.
func expectAll(obj *unstructured.Unstructured, expect []string) string {
	for _, s := range expect {
		e, err := exercises.ParseExpectation(s)
		if err != nil {
			return err.Error()
		}
		vals, err := jsonPathValues(obj.Object, e.Path)
		if err != nil {
			return err.Error()
		}
		if !Compare(vals, e.Op, e.Value) {
			return describe(e, vals)
		}
	}
	return ""
}

func describe(e exercises.Expectation, vals []string) string {
	switch {
	case e.Op == "exists":
		return fmt.Sprintf("%s is not set", e.Path)
	case e.Op == "absent":
		return fmt.Sprintf("%s is set (%s)", e.Path, strings.Join(vals, ", "))
	case len(vals) == 0:
		return fmt.Sprintf("%s is not set, want %s %s", e.Path, e.Op, e.Value)
	}
	return fmt.Sprintf("%s is %s, want %s %s", e.Path, strings.Join(vals, ", "), e.Op, e.Value)
}

// Compare applies an expectation operator to the values a JSONPath found.
func Compare(vals []string, op, want string) bool {
	switch op {
	case "exists":
		return len(vals) > 0 && !(len(vals) == 1 && vals[0] == "")
	case "absent":
		return len(vals) == 0 || (len(vals) == 1 && vals[0] == "")
	case "contains":
		for _, v := range vals {
			if v == want {
				return true
			}
		}
		return false
	}
	if len(vals) == 0 {
		return op == "!="
	}
	got := strings.Join(vals, " ")
	switch op {
	case "==":
		return got == want
	case "!=":
		return got != want
	case "=~":
		re, err := regexp.Compile(want)
		return err == nil && re.MatchString(got)
	}
	a, errA := strconv.ParseFloat(got, 64)
	b, errB := strconv.ParseFloat(want, 64)
	if errA != nil || errB != nil {
		return false
	}
	switch op {
	case ">":
		return a > b
	case ">=":
		return a >= b
	case "<":
		return a < b
	case "<=":
		return a <= b
	}
	return false
}

// jsonPathValues returns the values a kubectl JSONPath finds, as kubectl prints them.
func jsonPathValues(obj map[string]any, path string) ([]string, error) {
	jp, err := exercises.Expectation{Path: path}.JSONPath()
	if err != nil {
		return nil, err
	}
	results, err := jp.FindResults(obj)
	if err != nil {
		return nil, nil // a missing key is "not set"
	}
	var out []string
	for _, rs := range results {
		for _, r := range rs {
			if !r.IsValid() {
				continue
			}
			switch v := r.Interface().(type) {
			case nil:
			case string:
				out = append(out, v)
			case map[string]any, []any:
				out = append(out, fmt.Sprint(v))
			default:
				out = append(out, fmt.Sprint(v))
			}
		}
	}
	return out, nil
}

// shortErr drops client-go's wrapping noise from an API error.
func shortErr(err error) string {
	if s, ok := err.(apierrors.APIStatus); ok {
		return s.Status().Message
	}
	return err.Error()
}
