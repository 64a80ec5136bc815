package kubectl_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDeploymentRollout: scale, set image, rollout status/history/undo of a Deployment whose
// pods a stand-in kubelet marks ready.
func TestDeploymentRollout(t *testing.T) {
	t.Parallel()
	forEachVersion(t, func(t *testing.T, k *kubectl, _ int) {
		fakeKubelet(t, k.ns)
		wantText(t, k.ok("create", "deployment", "web", "--image=nginx:1.24", "--replicas=2"), "deployment.apps/web created\n")
		rolloutStatus(t, k, "web")
		wantTable(t, k.ok("get", "deployment", "web", "-o", "wide"), `
			NAME | READY | UP-TO-DATE | AVAILABLE | AGE | CONTAINERS | IMAGES | SELECTOR
			web | 2/2 | 2 | 2 | <age> | nginx | nginx:1.24 | app=web`)
		wantTable(t, k.ok("get", "replicasets"), `
			NAME | DESIRED | CURRENT | READY | AGE
			web-<hash> | 2 | 2 | 2 | <age>`)
		wantTable(t, k.ok("get", "pods", "-l", "app=web"), `
			NAME | READY | STATUS | RESTARTS | AGE
			web-<hash>-<rand> | 1/1 | Running | 0 | <age>
			web-<hash>-<rand> | 1/1 | Running | 0 | <age>`)

		wantText(t, k.ok("scale", "deployment", "web", "--replicas=3"), "deployment.apps/web scaled\n")
		rolloutStatus(t, k, "web")
		wantTable(t, k.ok("get", "deployment", "web"), `
			NAME | READY | UP-TO-DATE | AVAILABLE | AGE
			web | 3/3 | 3 | 3 | <age>`)

		wantText(t, k.ok("set", "image", "deployment/web", "nginx=nginx:1.25"), "deployment.apps/web image updated\n")
		rolloutStatus(t, k, "web")
		wantText(t, k.ok("rollout", "history", "deployment/web"),
			"deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n")
		wantText(t, k.ok("rollout", "history", "deployment/web", "--revision=1"), `deployment.apps/web with revision #1
Pod Template:
  Labels:	app=web
	pod-template-hash=<hash>
  Containers:
   nginx:
    Image:	nginx:1.24
    Port:	<none>
    Host Port:	<none>
    Environment:	<none>
    Mounts:	<none>
  Volumes:	<none>
`+nodeSelectorsTolerations(k, "\t")+"\n")
		// The old ReplicaSet is scaled to zero and kept for history.
		eventually(t, 30*time.Second, func() error {
			got := table(k.ok("get", "replicasets", "-o", "wide", "--sort-by=.metadata.annotations.deployment\\.kubernetes\\.io/revision"))
			want := lines(`
				NAME | DESIRED | CURRENT | READY | AGE | CONTAINERS | IMAGES | SELECTOR
				web-<hash> | 0 | 0 | 0 | <age> | nginx | nginx:1.24 | app=web,pod-template-hash=<hash>
				web-<hash> | 3 | 3 | 3 | <age> | nginx | nginx:1.25 | app=web,pod-template-hash=<hash>`)
			if got != want {
				return fmt.Errorf("get replicasets:\n%s", got)
			}
			return nil
		})

		wantText(t, k.ok("rollout", "undo", "deployment/web"), "deployment.apps/web rolled back\n")
		rolloutStatus(t, k, "web")
		wantText(t, k.ok("get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}"),
			"nginx:1.24 3")
		wantText(t, k.ok("rollout", "history", "deployment/web"),
			"deployment.apps/web \nREVISION  CHANGE-CAUSE\n2         <none>\n3         <none>\n\n")
		wantText(t, k.fails("rollout", "undo", "deployment/web", "--to-revision=7"),
			"error: unable to find specified revision 7 in history\n")

		describe := k.ok("describe", "deployment", "web")
		head, _, _ := strings.Cut(describe, "Conditions:")
		wantText(t, head, fmt.Sprintf(`Name:                   web
Namespace:              %s
CreationTimestamp:      <time>
Labels:                 app=web
Annotations:            deployment.kubernetes.io/revision: 3
Selector:               app=web
Replicas:               3 desired | 3 updated | 3 total | 3 available | 0 unavailable
StrategyType:           RollingUpdate
MinReadySeconds:        0
RollingUpdateStrategy:  25%% max unavailable, 25%% max surge
Pod Template:
  Labels:  app=web
  Containers:
   nginx:
%s`, k.ns, podTemplate(k)))
	})
}

// rolloutStatus runs `kubectl rollout status` and checks what it printed: progress lines, then
// success.
func rolloutStatus(t *testing.T, k *kubectl, name string) {
	t.Helper()
	out := k.ok("rollout", "status", "deployment/"+name, "--timeout=45s")
	ls := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if last := ls[len(ls)-1]; last != fmt.Sprintf(`deployment %q successfully rolled out`, name) {
		t.Fatalf("rollout status did not finish with success:\n%s", out)
	}
	for _, l := range ls[:len(ls)-1] {
		if !strings.HasPrefix(l, fmt.Sprintf(`Waiting for deployment %q rollout to finish: `, name)) &&
			l != "Waiting for deployment spec update to be observed..." {
			t.Errorf("unexpected rollout status line %q in:\n%s", l, out)
		}
	}
}

// nodeSelectorsTolerations is what kubectl prints after a pod template's volumes: 1.27 prints
// nothing, newer versions Node-Selectors and Tolerations (sep between name and value).
func nodeSelectorsTolerations(k *kubectl, sep string) string {
	if k.bin == kubectl127 {
		return ""
	}
	return "  Node-Selectors:" + sep + "<none>\n  Tolerations:" + sep + "<none>\n"
}

// podTemplate is describe deployment's container part of the pod template (nginx:1.24); its
// alignment depends on the longest label, which differs between versions.
func podTemplate(k *kubectl) string {
	if k.bin == kubectl127 {
		return `    Image:        nginx:1.24
    Port:         <none>
    Host Port:    <none>
    Environment:  <none>
    Mounts:       <none>
  Volumes:        <none>
`
	}
	return `    Image:         nginx:1.24
    Port:          <none>
    Host Port:     <none>
    Environment:   <none>
    Mounts:        <none>
  Volumes:         <none>
  Node-Selectors:  <none>
  Tolerations:     <none>
`
}
