package kubectl_test

import (
	"slices"
	"strings"
	"testing"
)

const applyConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  a: "1"
`

const applyWeb = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/pause:3.10
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - name: http
    port: 80
    targetPort: http
`

// resourceVersion returns an object's resourceVersion through kubectl.
func (k *kubectl) resourceVersion(kindName string) string {
	k.t.Helper()
	return k.ok("get", kindName, "-o", "jsonpath={.metadata.resourceVersion}")
}

// TestClientSideApply: create, unchanged (no write), configured, multi-document manifests,
// and pruning of a field dropped from the manifest.
func TestClientSideApply(t *testing.T) {
	t.Parallel()
	forEachVersion(t, func(t *testing.T, k *kubectl, _ int) {
		wantText(t, k.apply(applyConfigMap), "configmap/cfg created\n")
		rv := k.resourceVersion("cm/cfg")
		wantText(t, k.apply(applyConfigMap), "configmap/cfg unchanged\n")
		if got := k.resourceVersion("cm/cfg"); got != rv {
			t.Errorf("an unchanged apply wrote the object: resourceVersion %s -> %s", rv, got)
		}
		wantText(t, k.apply(strings.Replace(applyConfigMap, `a: "1"`, `a: "2"`+"\n  b: \"3\"", 1)), "configmap/cfg configured\n")
		wantText(t, k.ok("get", "cm", "cfg", "-o", "jsonpath={.data}"), `{"a":"2","b":"3"}`)
		// Dropping b from the manifest removes it (three-way merge with last-applied).
		wantText(t, k.apply(strings.Replace(applyConfigMap, `a: "1"`, `a: "2"`, 1)), "configmap/cfg configured\n")
		wantText(t, k.ok("get", "cm", "cfg", "-o", "jsonpath={.data}"), `{"a":"2"}`)
		// A field someone else set survives an apply that does not mention it.
		k.ok("label", "cm", "cfg", "owner=ops")
		wantText(t, k.apply(strings.Replace(applyConfigMap, `a: "1"`, `a: "2"`, 1)), "configmap/cfg unchanged\n")
		wantText(t, k.ok("get", "cm", "cfg", "-o", "jsonpath={.metadata.labels}"), `{"owner":"ops"}`)

		wantText(t, k.apply(applyWeb), "deployment.apps/web created\nservice/web created\n")
		wantText(t, k.apply(applyWeb), "deployment.apps/web unchanged\nservice/web unchanged\n")
		// The allocated node port is kept across applies (it is not in the manifest).
		np := k.ok("get", "svc", "web", "-o", "jsonpath={.spec.ports[0].nodePort}")
		wantText(t, k.apply(strings.Replace(applyWeb, "replicas: 1", "replicas: 2", 1)), "deployment.apps/web configured\nservice/web unchanged\n")
		if got := k.ok("get", "svc", "web", "-o", "jsonpath={.spec.ports[0].nodePort}"); got != np {
			t.Errorf("node port changed on re-apply: %s -> %s", np, got)
		}
		wantTable(t, k.ok("get", "svc", "web"), `
			NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE
			web | NodePort | <ip> | <none> | 80:<nodeport>/TCP | <age>`)
		// Unknown fields are refused on update too (kubectl leaves validation to the server);
		// the strategic merge patch handler words it so, quoting the patch.
		r := k.exec(runOpts{stdin: strings.Replace(applyConfigMap, "\ndata:", "\ndatax: {}\ndata:", 1)}, "apply", "-f", "-")
		if r.code == 0 || r.stdout != "" || !strings.HasPrefix(r.stderr, `The request is invalid: patch: Invalid value: "map[data:map[a:1] datax:map[] metadata:`) ||
			!strings.HasSuffix(r.stderr, `": strict decoding error: unknown field "datax"`+"\n") {
			t.Errorf("apply with an unknown field on an existing object:\n%s", r)
		}
	})
}

// TestServerSideApply: create, idempotent re-apply, conflicts between field managers and
// --force-conflicts, and unknown fields.
func TestServerSideApply(t *testing.T) {
	t.Parallel()
	forEachVersion(t, func(t *testing.T, k *kubectl, _ int) {
		wantText(t, k.apply(applyConfigMap, "--server-side"), "configmap/cfg serverside-applied\n")
		rv := k.resourceVersion("cm/cfg")
		wantText(t, k.apply(applyConfigMap, "--server-side"), "configmap/cfg serverside-applied\n")
		if got := k.resourceVersion("cm/cfg"); got != rv {
			t.Errorf("re-applying the same configuration wrote the object: resourceVersion %s -> %s", rv, got)
		}
		changed := strings.Replace(applyConfigMap, `a: "1"`, `a: "2"`, 1)
		wantText(t, k.failsWith(runOpts{stdin: changed}, "apply", "--server-side", "--field-manager=ops", "-f", "-"),
			`error: Apply failed with 1 conflict: conflict with "kubectl": .data.a
Please review the fields above--they currently have other managers. Here
are the ways you can resolve this warning:
* If you intend to manage all of these fields, please re-run the apply
  command with the `+"`--force-conflicts`"+` flag.
* If you do not intend to manage all of the fields, please edit your
  manifest to remove references to the fields that should keep their
  current managers.
* You may co-own fields by updating your manifest to match the existing
  value; in this case, you'll become the manager if the other manager(s)
  stop managing the field (remove it from their configuration).
See https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts
`)
		wantText(t, k.apply(changed, "--server-side", "--field-manager=ops", "--force-conflicts"), "configmap/cfg serverside-applied\n")
		wantText(t, k.ok("get", "cm", "cfg", "-o", `jsonpath={.data.a}{range .metadata.managedFields[*]} {.manager}/{.operation}{end}`),
			"2 ops/Apply")
		// Co-owning: the same value from another manager is no conflict.
		wantText(t, k.apply(changed, "--server-side"), "configmap/cfg serverside-applied\n")
		// (managedFields are ordered by time, then by manager.)
		managers := strings.Fields(k.ok("get", "cm", "cfg", "-o", `jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation} {end}`))
		slices.Sort(managers)
		wantText(t, strings.Join(managers, " "), "kubectl/Apply ops/Apply")
		// A conflict with a non-apply manager (kubectl label writes through an Update).
		k.ok("label", "cm", "cfg", "tier=web")
		withLabel := strings.Replace(changed, "name: cfg", "name: cfg\n  labels: {tier: db}", 1)
		wantText(t, firstLine(k.failsWith(runOpts{stdin: withLabel}, "apply", "--server-side", "-f", "-")),
			`error: Apply failed with 1 conflict: conflict with "kubectl-label" using v1: .metadata.labels.tier`+"\n")

		// Server-side apply creates Services through the same allocation as create.
		wantText(t, k.apply(applyWeb, "--server-side"), "deployment.apps/web serverside-applied\nservice/web serverside-applied\n")
		wantTable(t, k.ok("get", "svc", "web", "-o", "wide"), `
			NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE | SELECTOR
			web | NodePort | <ip> | <none> | 80:<nodeport>/TCP | <age> | app=web`)
		rv = k.resourceVersion("svc/web")
		wantText(t, k.apply(applyWeb, "--server-side"), "deployment.apps/web serverside-applied\nservice/web serverside-applied\n")
		if got := k.resourceVersion("svc/web"); got != rv {
			t.Errorf("re-applying the Service wrote it: resourceVersion %s -> %s", rv, got)
		}

		bad := "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  selector: {app: x}\n  portz: [{port: 80}]\n  ports: [{port: 80}]\n"
		wantText(t, k.failsWith(runOpts{stdin: bad}, "apply", "--server-side", "-f", "-"),
			`Error from server: failed to create typed patch object (`+k.ns+`/x; /v1, Kind=Service): .spec.portz: field not declared in schema`+"\n")
		nodePort80 := "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  type: NodePort\n  selector: {app: x}\n  ports: [{port: 80, nodePort: 80}]\n"
		wantText(t, k.failsWith(runOpts{stdin: nodePort80}, "apply", "--server-side", "-f", "-"),
			`The Service "x" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767`+"\n")
	})
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first + "\n"
}
