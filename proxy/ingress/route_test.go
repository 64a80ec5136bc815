package ingress

import (
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// path is a path rule for the test Ingresses: "Exact /foo svc:80", "Prefix /foo svc:http".
func rule(spec string) networkingv1.HTTPIngressPath {
	f := strings.Fields(spec)
	pt := networkingv1.PathType(f[0])
	svc, port, _ := strings.Cut(f[2], ":")
	var bp networkingv1.ServiceBackendPort
	if n := atoi(port); n > 0 {
		bp.Number = n
	} else {
		bp.Name = port
	}
	return networkingv1.HTTPIngressPath{Path: f[1], PathType: &pt,
		Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: bp}}}
}

func atoi(s string) int32 {
	var n int32
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int32(c-'0')
	}
	return n
}

// ing builds an Ingress created at minute age with host → path rules.
func ing(name string, age int, hosts map[string][]string) *networkingv1.Ingress {
	i := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name,
		CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, age, 0, 0, time.UTC))}}
	for host, paths := range hosts {
		r := networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
		for _, p := range paths {
			r.HTTP.Paths = append(r.HTTP.Paths, rule(p))
		}
		i.Spec.Rules = append(i.Spec.Rules, r)
	}
	return i
}

func lookup(t *Table, host, path string) string {
	r, ok := t.Match(host, path)
	if !ok {
		return "none"
	}
	return r.Backend.String()
}

// TestPathMatching covers the examples table of the Ingress documentation.
func TestPathMatching(t *testing.T) {
	for _, tc := range []struct {
		rules []string
		path  string
		want  string
	}{
		{[]string{"Prefix / a:80"}, "/anything", "default/a:80"},
		{[]string{"Exact /foo a:80"}, "/foo", "default/a:80"},
		{[]string{"Exact /foo a:80"}, "/bar", "none"},
		{[]string{"Exact /foo a:80"}, "/foo/", "none"},
		{[]string{"Exact /foo/ a:80"}, "/foo", "none"},
		{[]string{"Prefix /foo a:80"}, "/foo", "default/a:80"},
		{[]string{"Prefix /foo a:80"}, "/foo/", "default/a:80"},
		{[]string{"Prefix /foo/ a:80"}, "/foo", "default/a:80"},
		{[]string{"Prefix /foo/ a:80"}, "/foo/", "default/a:80"},
		{[]string{"Prefix /aaa/bb a:80"}, "/aaa/bbb", "none"},
		{[]string{"Prefix /aaa/bbb a:80"}, "/aaa/bbb", "default/a:80"},
		{[]string{"Prefix /aaa/bbb/ a:80"}, "/aaa/bbb", "default/a:80"},
		{[]string{"Prefix /aaa/bbb a:80"}, "/aaa/bbb/", "default/a:80"},
		{[]string{"Prefix /aaa/bbb a:80"}, "/aaa/bbb/ccc", "default/a:80"},
		{[]string{"Prefix /aaa/bbb a:80"}, "/aaa/bbbxyz", "none"},
		{[]string{"Prefix / a:80", "Prefix /aaa b:80"}, "/aaa/ccc", "default/b:80"},
		{[]string{"Prefix /aaa a:80", "Prefix / b:80"}, "/ccc", "default/b:80"},
		{[]string{"Prefix /aaa a:80", "Prefix /aaa/bbb b:80"}, "/aaa/bbb/c", "default/b:80"},
		{[]string{"Prefix /foo a:80", "Exact /foo b:80"}, "/foo", "default/b:80"},
		{[]string{"Prefix /foo a:80", "Exact /foo b:80"}, "/foo/x", "default/a:80"},
		{[]string{"ImplementationSpecific /foo a:http"}, "/foo/bar", "default/a:http"},
		{[]string{"ImplementationSpecific /foo a:http"}, "/foobar", "none"},
	} {
		tab := NewTable([]*networkingv1.Ingress{ing("i", 0, map[string][]string{"": tc.rules})})
		if got := lookup(tab, "x", tc.path); got != tc.want {
			t.Errorf("rules %q, path %s: got %s, want %s", tc.rules, tc.path, got, tc.want)
		}
	}
}

func TestHostMatching(t *testing.T) {
	tab := NewTable([]*networkingv1.Ingress{ing("i", 0, map[string][]string{
		"foo.bar.com":   {"Prefix / exact:80"},
		"*.foo.com":     {"Prefix / wild:80"},
		"*.bar.com":     {"Prefix /w wild2:80"},
		"":              {"Prefix /app catch:80"},
		"Upper.EXAMPLE": {"Prefix / upper:80"},
	})})
	for _, tc := range []struct{ host, path, want string }{
		{"foo.bar.com", "/", "default/exact:80"},
		{"FOO.bar.com:8080", "/", "default/exact:80"},
		{"foo.bar.com.", "/", "default/exact:80"},
		{"bar.foo.com", "/", "default/wild:80"},
		{"baz.bar.foo.com", "/", "none"},
		{"foo.com", "/", "none"},
		{"baz.bar.foo.com", "/app/x", "default/catch:80"},
		{"foo.bar.com", "/w", "default/exact:80"},  // exact host before wildcard
		{"x.bar.com", "/w/1", "default/wild2:80"},  // wildcard
		{"x.bar.com", "/app", "default/catch:80"},  // falls through to the catch-all
		{"upper.example", "/", "default/upper:80"}, // hosts are case-insensitive
		{"[2001:db8::1]:80", "/app", "default/catch:80"},
	} {
		if got := lookup(tab, tc.host, tc.path); got != tc.want {
			t.Errorf("%s%s: got %s, want %s", tc.host, tc.path, got, tc.want)
		}
	}
}

func TestDefaultBackendAndConflicts(t *testing.T) {
	newer := ing("newer", 5, map[string][]string{"a.example": {"Prefix /app new:80", "Exact /x new:80", "Prefix /only-new new:80"}})
	newer.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "def-new", Port: networkingv1.ServiceBackendPort{Number: 80}}}
	older := ing("older", 1, map[string][]string{"a.example": {"Prefix /app/ old:80", "Exact /x old:80"}})
	older.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "def-old", Port: networkingv1.ServiceBackendPort{Name: "web"}}}
	// Same timestamp as older: namespace/name decides ("aaa" < "older").
	same := ing("aaa", 1, map[string][]string{"a.example": {"Exact /x aaa:80"}})
	res := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "res"}}
	res.Spec.DefaultBackend = &networkingv1.IngressBackend{Resource: &corev1TypedRef}

	for _, order := range [][]*networkingv1.Ingress{{newer, older, same, res}, {res, same, older, newer}} {
		tab := NewTable(order)
		for _, tc := range []struct{ host, path, want string }{
			{"a.example", "/app/1", "default/old:80"},
			{"a.example", "/x", "default/aaa:80"},
			{"a.example", "/only-new", "default/new:80"},
			{"b.example", "/", "default/def-old:web"},
		} {
			if got := lookup(tab, tc.host, tc.path); got != tc.want {
				t.Errorf("%s%s: got %s, want %s", tc.host, tc.path, got, tc.want)
			}
		}
		var got []string
		for _, p := range tab.Problems {
			got = append(got, p.Ingress.Name+" "+p.Reason+": "+p.Message)
		}
		want := []string{
			"res UnsupportedBackend: only Service backends are supported; resource backends are ignored",
			"older Conflict: rule a.example /x (Exact) ignored: Ingress default/aaa routes it to default/aaa:80",
			"newer Conflict: defaultBackend ignored: Ingress default/older defines the default backend",
			"newer Conflict: rule a.example /app (Prefix) ignored: Ingress default/older routes it to default/old:80",
			"newer Conflict: rule a.example /x (Exact) ignored: Ingress default/aaa routes it to default/aaa:80",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestNoMatchWithoutDefault(t *testing.T) {
	tab := NewTable(nil)
	if r, ok := tab.Match("a", "/"); ok {
		t.Errorf("empty table matched %+v", r)
	}
}
