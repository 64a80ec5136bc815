package kubectl_test

import "testing"

// TestSelectors: label selectors of every form and the field selectors kubectl users type.
// kubectl passes selectors to the server as typed, so one version (1.32) is enough.
func TestSelectors(t *testing.T) {
	t.Parallel()
	k := newKubectl(t, kubectl132)
	for _, p := range []struct{ name, labels string }{
		{"pa", "app=a,foo=1"}, {"pb", "app=b"}, {"pc", "app=c,foo=2"},
	} {
		wantText(t, k.ok("run", p.name, "--image=registry.k8s.io/pause:3.10", "--labels="+p.labels), "pod/"+p.name+" created\n")
	}
	wantText(t, k.ok("patch", "pod", "pa", "--subresource=status", "--type=merge", "-p", `{"status":{"phase":"Running"}}`),
		"pod/pa patched\n")

	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-l", "app in (a,b)"}, "pa pb"},
		{[]string{"-l", "app notin (a,b)"}, "pc"},
		{[]string{"-l", "!foo"}, "pb"},
		{[]string{"-l", "foo"}, "pa pc"},
		{[]string{"-l", "foo!=1"}, "pb pc"},
		{[]string{"-l", "app=a,foo=1"}, "pa"},
		{[]string{"-l", "foo in (1,2),app!=c"}, "pa"},
		{[]string{"--field-selector", "metadata.name=pb"}, "pb"},
		{[]string{"--field-selector", "metadata.name!=pb"}, "pa pc"},
		{[]string{"--field-selector", "status.phase!=Running"}, "pb pc"},
		{[]string{"--field-selector", "status.phase=Running"}, "pa"},
		{[]string{"--field-selector", "status.phase=Pending", "-l", "foo"}, "pc"},
		{[]string{"--field-selector", "spec.nodeName="}, "pa pb pc"},
		{[]string{"--field-selector", "metadata.namespace=" + k.ns}, "pa pb pc"},
	}
	for _, c := range cases {
		args := append([]string{"get", "pods", "-o", `jsonpath={range .items[*]}{.metadata.name} {end}`}, c.args...)
		if got := k.ok(args...); got != c.want+" " {
			t.Errorf("kubectl get pods %q: got %q, want %q", c.args, got, c.want+" ")
		}
	}
	wantTable(t, k.ok("get", "pods", "-l", "app in (a,b)"), `
		NAME | READY | STATUS | RESTARTS | AGE
		pa | 0/1 | Running | 0 | <age>
		pb | 0/1 | Pending | 0 | <age>`)
	wantText(t, k.fails("get", "pods", "--field-selector", "spec.image=x"),
		`Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label selector "", field selector "spec.image=x": field label not supported: spec.image`+"\n")
	r := k.run("get", "pods", "-l", "app=nothing")
	if r.code != 0 || r.stdout != "" || r.stderr != "No resources found in "+k.ns+" namespace.\n" {
		t.Errorf("get pods matching nothing:\n%s", r)
	}

	// Services: by name across all namespaces, and by type.
	k.ok("create", "service", "clusterip", "sel-x", "--tcp=80")
	k.ok("create", "service", "nodeport", "sel-y", "--tcp=80")
	wantTable(t, k.ok("get", "services", "--all-namespaces", "--field-selector", "metadata.name=sel-x,metadata.namespace="+k.ns), `
		NAMESPACE | NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE
		`+k.ns+` | sel-x | ClusterIP | <ip> | <none> | 80/TCP | <age>`)
	wantText(t, k.ok("get", "services", "-o", "name", "--field-selector", "spec.type=NodePort"), "service/sel-y\n")
	wantText(t, k.ok("get", "services", "-o", "name", "-l", "app notin (sel-y)"), "service/sel-x\n")
}
