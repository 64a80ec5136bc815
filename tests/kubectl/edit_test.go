package kubectl_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var reEditCopy = regexp.MustCompile(`A copy of your changes has been stored to "([^"]+)"`)

// editor writes a shell script that edits the file kubectl hands it and returns the EDITOR
// setting that runs it.
func editor(t *testing.T, script string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "editor.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\nset -e\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return "EDITOR=" + path
}

// TestLabelAnnotatePatchEdit: label, annotate, patch (strategic, merge, JSON) and edit a
// Service, including the errors kubectl reports for invalid changes.
func TestLabelAnnotatePatchEdit(t *testing.T) {
	t.Parallel()
	forEachVersion(t, func(t *testing.T, k *kubectl, _ int) {
		wantText(t, k.ok("create", "service", "clusterip", "web", "--tcp=80:8080"), "service/web created\n")

		wantText(t, k.ok("label", "svc", "web", "tier=frontend"), "service/web labeled\n")
		wantText(t, k.fails("label", "svc", "web", "tier=backend"),
			"error: 'tier' already has a value (frontend), and --overwrite is false\n")
		wantText(t, k.ok("label", "svc", "web", "tier=backend", "--overwrite"), "service/web labeled\n")
		wantText(t, k.ok("label", "svc", "web", "track=stable"), "service/web labeled\n")
		wantText(t, k.ok("label", "svc", "web", "track-"), "service/web unlabeled\n")
		wantTable(t, k.ok("get", "svc", "web", "--show-labels"), `
			NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE | LABELS
			web | ClusterIP | <ip> | <none> | 80/TCP | <age> | app=web,tier=backend`)
		wantTable(t, k.ok("get", "svc", "-L", "tier"), `
			NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE | TIER
			web | ClusterIP | <ip> | <none> | 80/TCP | <age> | backend`)

		annotated := "service/web annotated\n"
		if k.bin == kubectl127 {
			annotated = "service/web annotate\n" // kubectl 1.27's own wording
		}
		wantText(t, k.ok("annotate", "svc", "web", "description=hello"), annotated)
		wantText(t, k.ok("get", "svc", "web", "-o", "jsonpath={.metadata.annotations}"), `{"description":"hello"}`)

		// Strategic merge patch merges ports by their key (port): one more port (first, as
		// apimachinery's strategic merge puts new list items before the old ones).
		wantText(t, k.ok("patch", "svc", "web", "-p", `{"spec":{"ports":[{"name":"alt","port":81}]}}`), "service/web patched\n")
		wantText(t, k.ok("get", "svc", "web", "-o", `jsonpath={range .spec.ports[*]}{.name}:{.port}>{.targetPort} {end}`),
			"alt:81>81 80-8080:80>8080 ")
		// A merge patch replaces the list.
		wantText(t, k.ok("patch", "svc", "web", "--type=merge", "-p", `{"spec":{"ports":[{"name":"only","port":82}]}}`), "service/web patched\n")
		wantText(t, k.ok("get", "svc", "web", "-o", `jsonpath={range .spec.ports[*]}{.name}:{.port}>{.targetPort} {end}`),
			"only:82>82 ")
		// A JSON patch changes one value.
		wantText(t, k.ok("patch", "svc", "web", "--type=json", "-p", `[{"op":"replace","path":"/spec/ports/0/port","value":83}]`), "service/web patched\n")
		wantText(t, k.ok("patch", "svc", "web", "--type=json", "-p", `[{"op":"replace","path":"/spec/ports/0/port","value":83}]`), "service/web patched (no change)\n")
		wantText(t, k.ok("patch", "svc", "web", "-p", `{"metadata":{"labels":{"tier":"backend"}}}`), "service/web patched (no change)\n")
		wantTable(t, k.ok("get", "svc", "web"), `
			NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE
			web | ClusterIP | <ip> | <none> | 83/TCP | <age>`)
		wantText(t, k.fails("patch", "svc", "web", "--type=json", "-p", `[{"op":"test","path":"/spec/type","value":"NodePort"}]`),
			`The request is invalid: the server rejected our request due to an error in our request`+"\n")
		wantText(t, k.fails("patch", "svc", "web", "-p", `{"spec":{"type":"NodePort","ports":[{"port":83,"nodePort":80}]}}`),
			`The Service "web" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767`+"\n")
		wantText(t, k.fails("patch", "svc", "web", "-p", `{"spec":{"clusterIP":"10.96.0.99"}}`),
			`The Service "web" is invalid: spec.clusterIPs[0]: Invalid value: ["10.96.0.99"]: may not change once set`+"\n")
		wantText(t, k.fails("patch", "svc", "nope", "-p", `{}`), `Error from server (NotFound): services "nope" not found`+"\n")

		// edit with EDITOR set to a script.
		wantText(t, k.okWith(runOpts{env: []string{editor(t, `sed -i 's/description: hello/description: edited/' "$1"`)}}, "edit", "svc", "web"),
			"service/web edited\n")
		wantText(t, k.ok("get", "svc", "web", "-o", "jsonpath={.metadata.annotations.description}"), "edited")
		if r := k.exec(runOpts{env: []string{editor(t, "true")}}, "edit", "svc", "web"); r.code != 0 || r.stdout != "" || r.stderr != "Edit cancelled, no changes made.\n" {
			t.Errorf("edit without changes:\n%s", r)
		}
		// An invalid edit: kubectl reopens the file with the server's error on top, the script
		// changes nothing more, and kubectl gives up, keeping a copy.
		tmp := t.TempDir()
		toNodePort := editor(t, `sed -i -e 's/^  type: ClusterIP/  type: NodePort/' -e 's/^  - name: only/  - name: only\n    nodePort: 80/' "$1"`)
		r := k.exec(runOpts{env: []string{toNodePort, "TMPDIR=" + tmp}}, "edit", "svc", "web")
		m := reEditCopy.FindStringSubmatch(r.stderr)
		if r.code == 0 || m == nil || filepath.Dir(m[1]) != tmp {
			t.Fatalf("want a failed edit that keeps a copy in %s, got:\n%s", tmp, r)
		}
		wantText(t, strings.Replace(r.stderr, m[1], "<copy>", 1), `error: services "web" is invalid`+"\n"+
			`A copy of your changes has been stored to "<copy>"`+"\n"+
			"error: Edit cancelled, no valid changes were saved.\n")
		saved, err := os.ReadFile(m[1])
		if err != nil {
			t.Fatal(err)
		}
		head, _, _ := strings.Cut(string(saved), "apiVersion:")
		wantText(t, head, `# Please edit the object below. Lines beginning with a '#' will be ignored,
# and an empty file will abort the edit. If an error occurs while saving this file will be
# reopened with the relevant failures.
#
# services "web" was not valid:
# * spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767
#
`)
	})
}
