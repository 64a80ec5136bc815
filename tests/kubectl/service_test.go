package kubectl_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// forEachVersion runs f as a parallel subtest for every kubectl version, with an index tests
// use to keep static node ports and cluster IPs of different versions apart.
func forEachVersion(t *testing.T, f func(t *testing.T, k *kubectl, i int)) {
	for i, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			f(t, newKubectl(t, v.bin), i)
		})
	}
}

// endpointsWarning is what the server says (as kube-apiserver 1.33+) whenever v1 Endpoints
// are read or written.
const endpointsWarning = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice\n"

// TestExposeDeploymentAsNodePort: create deployment, expose as NodePort, get, describe,
// delete, as a learner does.
func TestExposeDeploymentAsNodePort(t *testing.T) {
	t.Parallel()
	forEachVersion(t, func(t *testing.T, k *kubectl, _ int) {
		wantText(t, k.ok("create", "deployment", "web", "--image=registry.k8s.io/pause:3.10", "--replicas=2"),
			"deployment.apps/web created\n")
		wantText(t, k.ok("expose", "deployment", "web", "--port", "80", "--type", "NodePort"), "service/web exposed\n")
		wantTable(t, k.ok("get", "svc"), `
			NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE
			web | NodePort | <ip> | <none> | 80:<nodeport>/TCP | <age>`)
		wantTable(t, k.ok("get", "svc", "-o", "wide"), `
			NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE | SELECTOR
			web | NodePort | <ip> | <none> | 80:<nodeport>/TCP | <age> | app=web`)
		wantText(t, k.ok("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort} {.spec.ports[0].targetPort} {.spec.sessionAffinity} {.spec.externalTrafficPolicy}"),
			"<ip> <nodeport> 80 None Cluster")

		// Once the pods are ready (our stand-in kubelet), the endpoints controller lists them.
		fakeKubelet(t, k.ns)
		eventually(t, 30*time.Second, func() error {
			out := describeSvc(t, k, "web")
			if want := describeWeb(k, "<podip>:80,<podip>:80"); norm(out) != want {
				return fmt.Errorf("describe svc web:\n%s\nwant:\n%s", norm(out), want)
			}
			return nil
		})

		wantText(t, k.ok("delete", "svc", "web"), `service "web" deleted`+"\n")
		wantText(t, k.fails("get", "svc", "web"), `Error from server (NotFound): services "web" not found`+"\n")
	})
}

// describeSvc runs `kubectl describe svc NAME`; kubectl 1.27 reads v1 Endpoints (and gets the
// deprecation warning), newer versions read EndpointSlices.
func describeSvc(t *testing.T, k *kubectl, name string) string {
	t.Helper()
	r := k.run("describe", "svc", name)
	wantStderr := ""
	if k.bin == kubectl127 {
		wantStderr = endpointsWarning
	}
	if r.code != 0 || r.stderr != wantStderr {
		t.Fatalf("want success with stderr %q, got:\n%s", wantStderr, r)
	}
	return r.stdout
}

// describeWeb is `kubectl describe svc web` of the exposed deployment.
func describeWeb(k *kubectl, endpoints string) string {
	policies := "External Traffic Policy:  Cluster\nInternal Traffic Policy:  Cluster\n"
	if k.bin == kubectl127 {
		policies = "External Traffic Policy:  Cluster\n" // 1.27 did not print the internal policy
	}
	return "Name:                     web\n" +
		"Namespace:                " + k.ns + "\n" +
		"Labels:                   app=web\n" +
		"Annotations:              <none>\n" +
		"Selector:                 app=web\n" +
		"Type:                     NodePort\n" +
		"IP Family Policy:         SingleStack\n" +
		"IP Families:              IPv4\n" +
		"IP:                       <ip>\n" +
		"IPs:                      <ip>\n" +
		"Port:                     <unset>  80/TCP\n" +
		"TargetPort:               80/TCP\n" +
		"NodePort:                 <unset>  <nodeport>/TCP\n" +
		"Endpoints:                " + endpoints + "\n" +
		"Session Affinity:         None\n" +
		policies +
		"Events:                   <none>\n"
}

// TestCreateService: kubectl create service clusterip|nodeport|externalname|loadbalancer,
// with requested ports and addresses honoured.
func TestCreateService(t *testing.T) {
	t.Parallel()
	forEachVersion(t, func(t *testing.T, k *kubectl, i int) {
		ip := fmt.Sprintf("10.96.0.%d", 50+10*i)
		nodePort := fmt.Sprint(30010 + 10*i)
		wantText(t, k.ok("create", "service", "clusterip", "cip", "--tcp=80:8080"), "service/cip created\n")
		wantText(t, k.ok("create", "service", "clusterip", "fixed", "--tcp=443:8443", "--clusterip="+ip), "service/fixed created\n")
		wantText(t, k.ok("create", "service", "clusterip", "headless", "--clusterip=None"), "service/headless created\n")
		wantText(t, k.ok("create", "service", "nodeport", "np", "--tcp=80:8080", "--node-port="+nodePort), "service/np created\n")
		wantText(t, k.ok("create", "service", "nodeport", "np2", "--tcp=5353:53", "--tcp=8080"), "service/np2 created\n")
		wantText(t, k.ok("create", "service", "externalname", "ext", "--external-name=example.com"), "service/ext created\n")
		wantText(t, k.ok("create", "service", "loadbalancer", "lb", "--tcp=80:8080"), "service/lb created\n")
		wantTable(t, k.ok("get", "svc", "-o", "wide"), fmt.Sprintf(`
			NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE | SELECTOR
			cip | ClusterIP | <ip> | <none> | 80/TCP | <age> | app=cip
			ext | ExternalName | <none> | example.com | <none> | <age> | app=ext
			fixed | ClusterIP | %s | <none> | 443/TCP | <age> | app=fixed
			headless | ClusterIP | None | <none> | <none> | <age> | app=headless
			lb | LoadBalancer | <ip> | <pending> | 80:<nodeport>/TCP | <age> | app=lb
			np | NodePort | <ip> | <none> | 80:%s/TCP | <age> | app=np
			np2 | NodePort | <ip> | <none> | 5353:<nodeport>/TCP,8080:<nodeport>/TCP | <age> | app=np2`, ip, nodePort))
		// Defaults as the API server applies them: targetPort from port, port names from kubectl.
		wantText(t, k.ok("get", "svc", "np2", "-o", `jsonpath={range .spec.ports[*]}{.name} {.port} {.targetPort} {.protocol}{"\n"}{end}`),
			"5353-53 5353 53 TCP\n8080 8080 8080 TCP\n")
		wantText(t, k.ok("get", "svc", "lb", "-o", "jsonpath={.spec.allocateLoadBalancerNodePorts} {.spec.externalTrafficPolicy} {.spec.ipFamilyPolicy}"),
			"true Cluster SingleStack")
	})
}

// TestServiceErrors: kubectl prints kube-apiserver's errors for invalid and conflicting
// Services word for word.
func TestServiceErrors(t *testing.T) {
	t.Parallel()
	forEachVersion(t, func(t *testing.T, k *kubectl, i int) {
		nodePort := fmt.Sprint(30011 + 10*i)
		svc := func(name, spec string) string {
			return fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\nspec:\n%s", name, spec)
		}
		cases := []struct {
			name     string
			manifest string
			want     string
		}{{
			name:     "nodePort out of range",
			manifest: svc("x", "  type: NodePort\n  selector: {app: x}\n  ports: [{port: 80, nodePort: 80}]\n"),
			want:     `The Service "x" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767` + "\n",
		}, {
			name:     "nodePort already allocated",
			manifest: svc("second", "  type: NodePort\n  selector: {app: x}\n  ports: [{port: 80, nodePort: "+nodePort+"}]\n"),
			want:     `The Service "second" is invalid: spec.ports[0].nodePort: Invalid value: ` + nodePort + `: provided port is already allocated` + "\n",
		}, {
			name:     "clusterIP outside the service CIDR",
			manifest: svc("outside", "  clusterIP: 10.200.0.1\n  ports: [{port: 80}]\n"),
			want:     `The Service "outside" is invalid: spec.clusterIPs: Invalid value: ["10.200.0.1"]: failed to allocate IP 10.200.0.1: the provided IP (10.200.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12` + "\n",
		}, {
			name:     "ExternalName without externalName",
			manifest: svc("noname", "  type: ExternalName\n"),
			want:     `The Service "noname" is invalid: spec.externalName: Required value` + "\n",
		}, {
			name:     "unknown field, strict validation",
			manifest: svc("portz", "  selector: {app: x}\n  portz: [{port: 80}]\n  ports: [{port: 80}]\n"),
			want:     `Error from server (BadRequest): error when creating "STDIN": Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec.portz"` + "\n",
		}, {
			name:     "port out of range",
			manifest: svc("bigport", "  ports: [{port: 70000}]\n"),
			want: "The Service \"bigport\" is invalid: \n" +
				"* spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive\n" +
				"* spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive\n",
		}, {
			name:     "invalid name",
			manifest: svc("Bad_Name", "  ports: [{port: 80}]\n"),
			want:     `The Service "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')` + "\n",
		}}
		// The node port the "already allocated" case asks for.
		wantText(t, k.apply(svc("first", "  type: NodePort\n  selector: {app: x}\n  ports: [{port: 80, nodePort: "+nodePort+"}]\n")), "service/first created\n")
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				k := &kubectl{t: t, bin: k.bin, ns: k.ns}
				wantText(t, k.failsWith(runOpts{stdin: c.manifest}, "create", "-f", "-"), c.want)
				// apply says the same (it creates the missing object).
				wantText(t, k.failsWith(runOpts{stdin: c.manifest}, "apply", "-f", "-"), c.want)
			})
		}
		wantText(t, k.fails("get", "svc", "x"), `Error from server (NotFound): services "x" not found`+"\n")
		wantText(t, k.fails("delete", "svc", "x"), `Error from server (NotFound): services "x" not found`+"\n")
		wantText(t, k.fails("create", "service", "clusterip", "first", "--tcp=80"),
			`error: failed to create ClusterIP service: services "first" already exists`+"\n")
		wantText(t, k.failsWith(runOpts{stdin: svc("first", "  ports: [{port: 80}]\n")}, "create", "-f", "-"),
			`Error from server (AlreadyExists): error when creating "STDIN": services "first" already exists`+"\n")
		wantText(t, k.fails("create", "service", "nodeport", "np", "--tcp=80", "--node-port=80"),
			`error: failed to create NodePort service: Service "np" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767`+"\n")
		// Nothing was allocated by the failed requests: the node port is free once "first" goes.
		wantText(t, k.ok("delete", "svc", "first"), `service "first" deleted`+"\n")
		wantText(t, k.apply(svc("again", "  type: NodePort\n  selector: {app: x}\n  ports: [{port: 80, nodePort: "+nodePort+"}]\n")), "service/again created\n")
	})
}

var reEndpointsLine = regexp.MustCompile(`(?m)^Endpoints:\s+(.*)$`)

// TestSelectorlessServiceWithEndpoints: a Service without selector gets its endpoints from a
// user-made Endpoints object, which the endpoints controller leaves alone.
func TestSelectorlessServiceWithEndpoints(t *testing.T) {
	t.Parallel()
	forEachVersion(t, func(t *testing.T, k *kubectl, _ int) {
		manifest := `apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: ext}
subsets:
- addresses: [{ip: 192.0.2.10}, {ip: 192.0.2.11}]
  ports: [{name: http, port: 8080}]
`
		r := k.exec(runOpts{stdin: manifest}, "apply", "-f", "-")
		if r.code != 0 || r.stdout != "service/ext created\nendpoints/ext created\n" || r.stderr != endpointsWarning {
			t.Fatalf("apply selector-less Service and Endpoints:\n%s", r)
		}
		// A Service with a selector in the same namespace: once the controller has made its
		// Endpoints, it has seen ext too and must have left ext's alone.
		k.ok("create", "service", "clusterip", "withsel", "--tcp=80")
		eventually(t, 30*time.Second, func() error {
			if r := k.run("get", "endpoints", "withsel"); r.code != 0 {
				return fmt.Errorf("endpoints controller did not create endpoints for withsel:\n%s", r)
			}
			return nil
		})
		r = k.run("get", "endpoints")
		if r.code != 0 || r.stderr != endpointsWarning {
			t.Fatalf("get endpoints:\n%s", r)
		}
		wantTable(t, r.stdout, `
			NAME | ENDPOINTS | AGE
			ext | 192.0.2.10:8080,192.0.2.11:8080 | <age>
			withsel | <none> | <age>`)
		wantTable(t, k.ok("get", "svc", "ext", "-o", "wide"), `
			NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE | SELECTOR
			ext | ClusterIP | <ip> | <none> | 80/TCP | <age> | <none>`)
		// describe shows the endpoints: 1.27 from Endpoints, newer kubectl from the
		// EndpointSlices the mirroring controller makes of them.
		eventually(t, 30*time.Second, func() error {
			// (The mirrored slice lists the addresses in no particular order, as upstream's.)
			m := reEndpointsLine.FindStringSubmatch(describeSvc(t, k, "ext"))
			if m == nil || sortedList(m[1]) != "192.0.2.10:8080,192.0.2.11:8080" {
				return fmt.Errorf("describe svc ext: Endpoints line %q, want 192.0.2.10:8080,192.0.2.11:8080", m)
			}
			return nil
		})
	})
}

// sortedList sorts the items of a comma-separated list.
func sortedList(s string) string {
	items := strings.Split(s, ",")
	slices.Sort(items)
	return strings.Join(items, ",")
}
