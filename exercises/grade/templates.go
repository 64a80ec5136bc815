package grade

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"text/template"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/svclab/svclab/exercises"
)

// NodeInfo is what `each: node` templates see as .Node.
type NodeInfo struct {
	Name string
	IP   string
}

// tmpl renders a check's templated fields against the cluster.
type tmpl struct {
	g   *Grader
	ctx context.Context
	ns  string
}

type tmplData struct {
	Node *NodeInfo
}

// render returns a copy of c with its templated fields filled in.
func (t *tmpl) render(c *exercises.Check, node *NodeInfo) (*exercises.Check, error) {
	cp := deepCopyCheck(c)
	for _, f := range exercises.TemplatedFields(cp) {
		v, err := t.expand(*f, node)
		if err != nil {
			return nil, err
		}
		*f = v
	}
	if cp.HTTP != nil && len(cp.HTTP.Headers) > 0 {
		h := make(map[string]string, len(cp.HTTP.Headers))
		for k, v := range cp.HTTP.Headers {
			x, err := t.expand(v, node)
			if err != nil {
				return nil, err
			}
			h[k] = x
		}
		cp.HTTP.Headers = h
	}
	return cp, nil
}

func (t *tmpl) expand(s string, node *NodeInfo) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	tp, err := template.New("check").Option("missingkey=error").Funcs(t.funcs()).Parse(s)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := tp.Execute(&b, tmplData{Node: node}); err != nil {
		// Strip text/template's location prefix: the message is what the learner needs.
		msg := err.Error()
		if i := strings.LastIndex(msg, ": error calling "); i >= 0 {
			if j := strings.Index(msg[i+len(": error calling "):], ": "); j >= 0 {
				msg = msg[i+len(": error calling ")+j+2:]
			}
		}
		return "", fmt.Errorf("%s", msg)
	}
	return b.String(), nil
}

func (t *tmpl) funcs() template.FuncMap {
	return template.FuncMap{
		"ns":        func() string { return t.ns },
		"clusterIP": t.clusterIP,
		"nodePort":  t.nodePort,
		"lbIP":      t.lbIP,
		"podIP":     func(ref string) (string, error) { p, err := t.g.findPod(t.ctx, t.ns, ref); return podIPOf(p), err },
		"podName":   func(ref string) (string, error) { p, err := t.g.findPod(t.ctx, t.ns, ref); return nameOf(p), err },
		"nodeIP":    t.nodeIP,
		"node":      t.nodeName,
		"field":     t.field,
	}
}

// splitRef reads "name" or "namespace/name".
func splitRef(defNS, ref string) (string, string) {
	if ns, name, ok := strings.Cut(ref, "/"); ok {
		return ns, name
	}
	return defNS, ref
}

func (t *tmpl) service(ref string) (*corev1.Service, error) {
	ns, name := splitRef(t.ns, ref)
	svc, err := t.g.client.CoreV1().Services(ns).Get(t.ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("service %s/%s: %v", ns, name, shortErr(err))
	}
	return svc, nil
}

func (t *tmpl) clusterIP(ref string) (string, error) {
	svc, err := t.service(ref)
	if err != nil {
		return "", err
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return "", fmt.Errorf("service %s has no ClusterIP (type %s, clusterIP %q)", ref, svc.Spec.Type, svc.Spec.ClusterIP)
	}
	return svc.Spec.ClusterIP, nil
}

func (t *tmpl) nodePort(ref string, port ...int) (string, error) {
	svc, err := t.service(ref)
	if err != nil {
		return "", err
	}
	for _, p := range svc.Spec.Ports {
		if (len(port) == 0 || int(p.Port) == port[0]) && p.NodePort != 0 {
			return strconv.Itoa(int(p.NodePort)), nil
		}
	}
	return "", fmt.Errorf("service %s has no NodePort (type %s)", ref, svc.Spec.Type)
}

func (t *tmpl) lbIP(ref string) (string, error) {
	svc, err := t.service(ref)
	if err != nil {
		return "", err
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			return in.IP, nil
		}
	}
	return "", fmt.Errorf("service %s has no LoadBalancer address yet (EXTERNAL-IP <pending>)", ref)
}

func (g *Grader) nodes(ctx context.Context) ([]corev1.Node, error) {
	l, err := g.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %v", shortErr(err))
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	return l.Items, nil
}

func (t *tmpl) nodeByRef(ref any) (*corev1.Node, error) {
	nodes, err := t.g.nodes(t.ctx)
	if err != nil {
		return nil, err
	}
	switch r := ref.(type) {
	case int:
		if r < 0 || r >= len(nodes) {
			return nil, fmt.Errorf("node %d: the cluster has %d nodes", r, len(nodes))
		}
		return &nodes[r], nil
	case string:
		for i := range nodes {
			if nodes[i].Name == r {
				return &nodes[i], nil
			}
		}
		return nil, fmt.Errorf("node %q not found", r)
	}
	return nil, fmt.Errorf("node: want an index or a name, got %v", ref)
}

func (t *tmpl) nodeName(ref any) (string, error) {
	n, err := t.nodeByRef(ref)
	if err != nil {
		return "", err
	}
	return n.Name, nil
}

func (t *tmpl) nodeIP(ref any) (string, error) {
	n, err := t.nodeByRef(ref)
	if err != nil {
		return "", err
	}
	if ip := internalIP(n); ip != "" {
		return ip, nil
	}
	return "", fmt.Errorf("node %s has no InternalIP", n.Name)
}

func internalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

func (t *tmpl) field(resource, ref, path string) (string, error) {
	ns, name := splitRef(t.ns, ref)
	obj, err := t.g.getObject(t.ctx, resource, ns, name)
	if err != nil {
		return "", err
	}
	vals, err := jsonPathValues(obj.Object, path)
	if err != nil {
		return "", err
	}
	if len(vals) == 0 {
		return "", fmt.Errorf("%s %s has no %s", resource, ref, path)
	}
	return vals[0], nil
}

// findPod returns a pod by "name", "namespace/name" or "label=value" (the first ready one
// by name).
func (g *Grader) findPod(ctx context.Context, defNS, ref string) (*corev1.Pod, error) {
	ns, rest := defNS, ref
	if strings.Count(ref, "/") == 1 {
		ns, rest = splitRef(defNS, ref)
	}
	if !strings.Contains(rest, "=") {
		p, err := g.client.CoreV1().Pods(ns).Get(ctx, rest, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("pod %s/%s: %v", ns, rest, shortErr(err))
		}
		return p, nil
	}
	sel, err := labels.Parse(rest)
	if err != nil {
		return nil, fmt.Errorf("pod selector %q: %v", rest, err)
	}
	l, err := g.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("list pods %s in %s: %v", rest, ns, shortErr(err))
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	for i := range l.Items {
		if podReady(&l.Items[i]) {
			return &l.Items[i], nil
		}
	}
	return nil, fmt.Errorf("no ready pod matches %s in namespace %s (%d not ready)", rest, ns, len(l.Items))
}

func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podIPOf(p *corev1.Pod) string {
	if p == nil {
		return ""
	}
	return p.Status.PodIP
}

func nameOf(p *corev1.Pod) string {
	if p == nil {
		return ""
	}
	return p.Name
}

// deepCopyCheck copies a check so rendering never changes the loaded exercise.
func deepCopyCheck(c *exercises.Check) *exercises.Check {
	cp := *c
	if c.Object != nil {
		o := *c.Object
		o.Expect = append([]string(nil), o.Expect...)
		cp.Object = &o
	}
	if c.Endpoints != nil {
		e := *c.Endpoints
		cp.Endpoints = &e
	}
	if c.HTTP != nil {
		h := *c.HTTP
		h.Headers = maps.Clone(h.Headers)
		cp.HTTP = &h
	}
	if c.TCP != nil {
		x := *c.TCP
		cp.TCP = &x
	}
	if c.UDP != nil {
		x := *c.UDP
		cp.UDP = &x
	}
	if c.DNS != nil {
		x := *c.DNS
		cp.DNS = &x
	}
	if c.Trace != nil {
		x := *c.Trace
		cp.Trace = &x
	}
	if c.Command != nil {
		x := *c.Command
		cp.Command = &x
	}
	return &cp
}
