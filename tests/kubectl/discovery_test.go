package kubectl_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestAuthAndDiscovery: auth can-i/whoami, api-resources, api-versions, explain, version and
// the system namespaces, as kubectl shows them.
func TestAuthAndDiscovery(t *testing.T) {
	t.Parallel()
	forEachVersion(t, func(t *testing.T, k *kubectl, _ int) {
		wantText(t, k.ok("auth", "can-i", "create", "services"), "yes\n")
		wantText(t, k.ok("auth", "can-i", "*", "*"), "yes\n")
		wantText(t, k.ok("auth", "can-i", "get", "pods", "--subresource=log"), "yes\n")
		wantTable(t, k.ok("auth", "can-i", "--list"), `
			Resources | Non-Resource URLs | Resource Names | Verbs
			*.* | [] | [] | [*]
			 | [*] | [] | [*]`)

		if k.bin == kubectl127 {
			// kubectl 1.27 only knows the alpha and beta SelfSubjectReview APIs.
			wantText(t, k.fails("auth", "whoami"), "error: the selfsubjectreviews API is not enabled in the cluster\n"+
				"enable APISelfSubjectReview feature gate and authentication.k8s.io/v1alpha1 or authentication.k8s.io/v1beta1 API\n")
		} else {
			wantTable(t, k.ok("auth", "whoami"), `
				ATTRIBUTE | VALUE
				Username | kubernetes-admin
				Groups | [kubeadm:cluster-admins system:authenticated]
				Extra: authentication.kubernetes.io/credential-id | [X509SHA256=<sha256>]`)
		}

		got := table(k.ok("api-resources"))
		header, _, _ := strings.Cut(got, "\n")
		if header != "NAME | SHORTNAMES | APIVERSION | NAMESPACED | KIND" {
			t.Errorf("api-resources header: %q", header)
		}
		// Every resource the lab needs, as kube-apiserver lists it.
		for _, row := range strings.Split(lines(`
			configmaps | cm | v1 | true | ConfigMap
			endpoints | ep | v1 | true | Endpoints
			events | ev | v1 | true | Event
			namespaces | ns | v1 | false | Namespace
			nodes | no | v1 | false | Node
			pods | po | v1 | true | Pod
			secrets |  | v1 | true | Secret
			serviceaccounts | sa | v1 | true | ServiceAccount
			services | svc | v1 | true | Service
			daemonsets | ds | apps/v1 | true | DaemonSet
			deployments | deploy | apps/v1 | true | Deployment
			replicasets | rs | apps/v1 | true | ReplicaSet
			selfsubjectaccessreviews |  | authorization.k8s.io/v1 | false | SelfSubjectAccessReview
			endpointslices |  | discovery.k8s.io/v1 | true | EndpointSlice
			events | ev | events.k8s.io/v1 | true | Event
			ingressclasses |  | networking.k8s.io/v1 | false | IngressClass
			ingresses | ing | networking.k8s.io/v1 | true | Ingress
			ipaddresses | ip | networking.k8s.io/v1 | false | IPAddress
			servicecidrs |  | networking.k8s.io/v1 | false | ServiceCIDR`), "\n") {
			if row != "" && !strings.Contains(got, "\n"+row+"\n") {
				t.Errorf("api-resources lacks the row %q:\n%s", row, got)
			}
		}
		wantText(t, k.ok("api-resources", "--api-group=apps", "-o", "name"),
			"controllerrevisions.apps\ndaemonsets.apps\ndeployments.apps\nreplicasets.apps\n")
		for _, gv := range []string{"v1", "apps/v1", "discovery.k8s.io/v1", "networking.k8s.io/v1", "events.k8s.io/v1", "authorization.k8s.io/v1"} {
			if !strings.Contains("\n"+k.ok("api-versions"), "\n"+gv+"\n") {
				t.Errorf("api-versions lacks %s", gv)
			}
		}

		explain := k.ok("explain", "service.spec.ports.nodePort")
		wantText(t, firstLines(explain, 4), "KIND:       Service\nVERSION:    v1\n\nFIELD: nodePort <integer>\n")
		if !strings.Contains(explain, "The port on each node on which this service is exposed when type is") {
			t.Errorf("explain service.spec.ports.nodePort lacks the field's description:\n%s", explain)
		}
		explain = k.ok("explain", "deployment.spec.strategy")
		wantText(t, firstLines(explain, 5), "GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n\nFIELD: strategy <DeploymentStrategy>\n")
		wantText(t, firstLines(k.ok("explain", "endpointslices"), 3), "GROUP:      discovery.k8s.io\nKIND:       EndpointSlice\nVERSION:    v1\n")
		wantText(t, k.fails("explain", "svc.spec.portz"), `error: field "portz" does not exist`+"\n")

		// kubectl version parses the server's version and warns about the skew: the server
		// serves the API of Kubernetes 1.37 (k8s.io/api v0.37).
		r := k.run("version", "-o", "json")
		var v struct {
			ServerVersion struct{ Major, Minor, GitVersion string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 0 {
			t.Errorf("kubectl version -o json: %v\n%s", err, r)
		}
		if got := v.ServerVersion; got.Major != "1" || got.Minor != "37" || got.GitVersion != "v1.37.2" {
			t.Errorf("kubectl version: server version %+v, want 1, 37, v1.37.2", got)
		}
		skew := regexp.MustCompile(`^WARNING: version difference between client \(1\.\d+\) and server \(1\.37\) exceeds the supported minor version skew of \+/-1\n$`)
		if !skew.MatchString(r.stderr) {
			t.Errorf("kubectl version: stderr %q, want the version skew warning", r.stderr)
		}

		// The system namespaces (the tests' own namespaces are in the list too).
		var system []string
		for _, row := range strings.Split(table(k.ok("get", "namespaces")), "\n") {
			if name, _, _ := strings.Cut(row, " |"); name == "NAME" || name == "default" || strings.HasPrefix(name, "kube-") {
				system = append(system, row)
			}
		}
		wantText(t, strings.Join(system, "\n")+"\n", lines(`
			NAME | STATUS | AGE
			default | Active | <age>
			kube-node-lease | Active | <age>
			kube-public | Active | <age>
			kube-system | Active | <age>`))
		wantTable(t, k.ok("get", "svc", "kubernetes", "--namespace=default", "-o", "wide"), `
			NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE | SELECTOR
			kubernetes | ClusterIP | 10.96.0.1 | <none> | 443/TCP | <age> | <none>`)
		wantTable(t, k.ok("get", "namespace", k.ns, "--show-labels"), `
			NAME | STATUS | AGE | LABELS
			`+k.ns+` | Active | <age> | kubernetes.io/metadata.name=`+k.ns)
	})
}

// firstLines returns the first n lines of s.
func firstLines(s string, n int) string {
	ls := strings.SplitAfter(s, "\n")
	if len(ls) > n {
		ls = ls[:n]
	}
	return strings.Join(ls, "")
}
