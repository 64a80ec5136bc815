package validation

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svclab/svclab/apiserver-lite/defaults"
)

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := defaults.RegisterDefaults(s); err != nil {
		panic(err)
	}
	return s
}()

// defaulted applies the API server's defaults, as the server does before validating.
func defaulted[T runtime.Object](obj T) T {
	scheme.Default(obj)
	return obj
}

func validDeployment() *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	return defaulted(&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "1"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: "nginx:1.27", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}},
				}}},
			},
		},
	})
}

func validPod() *corev1.Pod {
	return defaulted(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "1"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "nginx:1.27", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}},
		}}},
	})
}

// errorCase is one table entry: mutate a valid object and expect exactly these errors. An
// expected string ending in "..." only has to prefix the actual error.
type errorCase struct {
	name string
	want []string
}

func checkErrors(t *testing.T, got field.ErrorList, want []string) {
	t.Helper()
	var gotStr []string
	for _, e := range got {
		gotStr = append(gotStr, e.Error())
	}
	if len(gotStr) != len(want) {
		t.Fatalf("got %d errors, want %d:\n got: %q\nwant: %q", len(gotStr), len(want), gotStr, want)
	}
	for i := range want {
		if w, ok := strings.CutSuffix(want[i], "..."); ok {
			if !strings.HasPrefix(gotStr[i], w) {
				t.Errorf("error %d:\n got: %s\nwant prefix: %s", i, gotStr[i], w)
			}
			continue
		}
		if gotStr[i] != want[i] {
			t.Errorf("error %d:\n got: %s\nwant: %s", i, gotStr[i], want[i])
		}
	}
}
