package apiserver

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svclab/svclab/apiserver-lite/defaults"
	"github.com/svclab/svclab/apiserver-lite/service"
	"github.com/svclab/svclab/apiserver-lite/validation"
)

// applyHooks plugs the per-type validation and preparation into a resource's strategy:
// Services have their own package, every other type goes through package validation.
func applyHooks(res resource, s *strategy) {
	sample := res.newFunc()
	s.nameFunc = validation.NameFunc(sample)
	if _, ok := sample.(*corev1.Service); ok {
		s.nameFunc = apimachineryvalidation.NameIsDNS1035Label
		s.validate = func(obj runtime.Object) field.ErrorList { return service.Validate(obj.(*corev1.Service)) }
		s.validateUpdate = func(obj, old runtime.Object) field.ErrorList {
			return service.ValidateUpdate(obj.(*corev1.Service), old.(*corev1.Service))
		}
		s.prepareCreate = func(obj runtime.Object) { service.PrepareForCreate(obj.(*corev1.Service)) }
		s.prepareUpdate = func(obj, old runtime.Object) {
			service.PrepareForUpdate(obj.(*corev1.Service), old.(*corev1.Service))
		}
		return
	}
	s.validate = validation.Validate
	s.validateUpdate = validation.ValidateUpdate
	if _, ok := sample.(*appsv1.DaemonSet); ok {
		s.prepareCreate = func(obj runtime.Object) { setTemplateGeneration(obj.(*appsv1.DaemonSet), 1) }
		s.prepareUpdate = func(obj, old runtime.Object) {
			ds, oldDS := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
			gen := templateGeneration(oldDS)
			if !apiequality.Semantic.DeepEqual(ds.Spec.Template, oldDS.Spec.Template) {
				gen++
			}
			setTemplateGeneration(ds, gen)
		}
	}
	if _, ok := sample.(*corev1.Pod); ok {
		// As upstream's pod strategy: a new pod starts Pending (kubectl shows STATUS Pending).
		s.prepareCreate = func(obj runtime.Object) {
			pod := obj.(*corev1.Pod)
			pod.Status.Phase = corev1.PodPending
			pod.Status.QOSClass = qosClass(pod)
		}
	}
}

// templateGenerationAnnotation is how apps/v1 DaemonSets carry the template generation
// kube-apiserver keeps (the daemonset controller labels pods with it).
const templateGenerationAnnotation = "deprecated.daemonset.template.generation"

func templateGeneration(ds *appsv1.DaemonSet) int64 {
	gen, err := strconv.ParseInt(ds.Annotations[templateGenerationAnnotation], 10, 64)
	if err != nil {
		return 1
	}
	return gen
}

func setTemplateGeneration(ds *appsv1.DaemonSet, gen int64) {
	if ds.Annotations == nil {
		ds.Annotations = map[string]string{}
	}
	ds.Annotations[templateGenerationAnnotation] = strconv.FormatInt(gen, 10)
}

// applyStatusHooks plugs the per-type status validation into a status strategy.
func applyStatusHooks(res resource, s *statusStrategy) {
	if _, ok := res.newFunc().(*corev1.Service); ok {
		s.validateStatus = func(obj, old runtime.Object) field.ErrorList {
			return service.ValidateStatusUpdate(obj.(*corev1.Service), old.(*corev1.Service))
		}
		return
	}
	s.validateStatus = validation.ValidateStatusUpdate
}

// registerDefaults registers upstream's defaulting for every served type.
func registerDefaults(s *runtime.Scheme) {
	if err := defaults.RegisterDefaults(s); err != nil {
		panic(err)
	}
	s.AddTypeDefaultingFunc(&corev1.Service{}, func(obj any) { service.SetDefaults(obj.(*corev1.Service)) })
	s.AddTypeDefaultingFunc(&corev1.ServiceList{}, func(obj any) {
		l := obj.(*corev1.ServiceList)
		for i := range l.Items {
			service.SetDefaults(&l.Items[i])
		}
	})
}

// qosClass computes a pod's QoS class as kube-apiserver does at create.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed := true
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for name, q := range c.Resources.Requests {
			if name == corev1.ResourceCPU || name == corev1.ResourceMemory {
				requests[name] = q
			}
		}
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			q, ok := c.Resources.Limits[name]
			if !ok {
				guaranteed = false
				continue
			}
			limits[name] = q
			if r, ok := c.Resources.Requests[name]; ok && r.Cmp(q) != 0 {
				guaranteed = false
			}
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}
