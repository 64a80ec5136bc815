package defaults

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// PodObject applies every default a Pod gets (SetObjectDefaults_Pod upstream).
func PodObject(in *corev1.Pod) {
	SetDefaultsPod(in)
	podSpec(&in.Spec)
	for i := range in.Spec.EphemeralContainers {
		c := (*corev1.Container)(&in.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		container(c)
	}
	resourceList(&in.Spec.Overhead)
	if in.Spec.Resources != nil {
		resourceList(&in.Spec.Resources.Limits)
		resourceList(&in.Spec.Resources.Requests)
	}
	for _, statuses := range [][]corev1.ContainerStatus{in.Status.InitContainerStatuses, in.Status.ContainerStatuses, in.Status.EphemeralContainerStatuses} {
		for i := range statuses {
			resourceList(&statuses[i].AllocatedResources)
			if r := statuses[i].Resources; r != nil {
				resourceList(&r.Limits)
				resourceList(&r.Requests)
			}
		}
	}
}

// PodTemplateObject applies the defaults of a PodTemplate.
func PodTemplateObject(in *corev1.PodTemplate) { PodTemplateSpec(&in.Template) }

// PodTemplateSpec applies the defaults every embedded pod template gets (Deployments,
// ReplicaSets, DaemonSets, ...): the PodSpec defaults, but not the Pod-only ones such as
// enableServiceLinks, exactly as upstream.
func PodTemplateSpec(in *corev1.PodTemplateSpec) {
	podSpec(&in.Spec)
	for i := range in.Spec.EphemeralContainers {
		container((*corev1.Container)(&in.Spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
	resourceList(&in.Spec.Overhead)
	if in.Spec.Resources != nil {
		resourceList(&in.Spec.Resources.Limits)
		resourceList(&in.Spec.Resources.Requests)
	}
}

// podSpec applies SetDefaults_PodSpec and the nested defaults of volumes and containers.
func podSpec(in *corev1.PodSpec) {
	SetDefaultsPodSpec(in)
	for i := range in.Volumes {
		volume(&in.Volumes[i])
	}
	for i := range in.InitContainers {
		container(&in.InitContainers[i])
	}
	for i := range in.Containers {
		container(&in.Containers[i])
	}
}

// ReplicationControllerObject applies the defaults of a ReplicationController.
func ReplicationControllerObject(in *corev1.ReplicationController) {
	SetDefaultsReplicationController(in)
	if in.Spec.Replicas == nil {
		in.Spec.Replicas = ptr.To[int32](1)
	}
	if in.Spec.Template != nil {
		PodTemplateSpec(in.Spec.Template)
	}
}

// NamespaceObject applies the defaults of a Namespace: the kubernetes.io/metadata.name label and
// phase Active.
func NamespaceObject(in *corev1.Namespace) {
	if len(in.Name) > 0 {
		if in.Labels == nil {
			in.Labels = map[string]string{}
		}
		in.Labels[corev1.LabelMetadataName] = in.Name
	}
	if in.Status.Phase == "" {
		in.Status.Phase = corev1.NamespaceActive
	}
}

// NodeObject applies the defaults of a Node: allocatable defaults to capacity.
func NodeObject(in *corev1.Node) {
	if in.Status.Allocatable == nil && in.Status.Capacity != nil {
		in.Status.Allocatable = make(corev1.ResourceList, len(in.Status.Capacity))
		for k, v := range in.Status.Capacity {
			in.Status.Allocatable[k] = v.DeepCopy()
		}
	}
	resourceList(&in.Status.Capacity)
	resourceList(&in.Status.Allocatable)
}

// EndpointsObject defaults every Endpoints port protocol to TCP.
func EndpointsObject(in *corev1.Endpoints) {
	for i := range in.Subsets {
		for j := range in.Subsets[i].Ports {
			if in.Subsets[i].Ports[j].Protocol == "" {
				in.Subsets[i].Ports[j].Protocol = corev1.ProtocolTCP
			}
		}
	}
}

// SecretObject defaults the Secret type to Opaque.
func SecretObject(in *corev1.Secret) {
	if in.Type == "" {
		in.Type = corev1.SecretTypeOpaque
	}
}

// ConfigMapObject gives a ConfigMap an empty (non-nil) data map, as upstream does.
func ConfigMapObject(in *corev1.ConfigMap) {
	if in.Data == nil {
		in.Data = make(map[string]string)
	}
}

// SetDefaultsPod is upstream SetDefaults_Pod: requests default to limits, enableServiceLinks
// defaults to true, and host-network pods get hostPort = containerPort.
func SetDefaultsPod(obj *corev1.Pod) {
	for _, cs := range [][]corev1.Container{obj.Spec.Containers, obj.Spec.InitContainers} {
		for i := range cs {
			requestsFromLimits(&cs[i].Resources)
		}
	}
	if obj.Spec.EnableServiceLinks == nil {
		obj.Spec.EnableServiceLinks = ptr.To(corev1.DefaultEnableServiceLinks)
	}
	if obj.Spec.HostNetwork {
		defaultHostNetworkPorts(obj.Spec.Containers)
		defaultHostNetworkPorts(obj.Spec.InitContainers)
	}
}

func requestsFromLimits(r *corev1.ResourceRequirements) {
	if r.Limits == nil {
		return
	}
	if r.Requests == nil {
		r.Requests = make(corev1.ResourceList)
	}
	for k, v := range r.Limits {
		if _, ok := r.Requests[k]; !ok {
			r.Requests[k] = v.DeepCopy()
		}
	}
}

func defaultHostNetworkPorts(containers []corev1.Container) {
	for i := range containers {
		for j := range containers[i].Ports {
			if containers[i].Ports[j].HostPort == 0 {
				containers[i].Ports[j].HostPort = containers[i].Ports[j].ContainerPort
			}
		}
	}
}

// SetDefaultsPodSpec is upstream SetDefaults_PodSpec.
func SetDefaultsPodSpec(obj *corev1.PodSpec) {
	if obj.DNSPolicy == "" {
		obj.DNSPolicy = corev1.DNSClusterFirst
	}
	if obj.RestartPolicy == "" {
		obj.RestartPolicy = corev1.RestartPolicyAlways
	}
	if obj.SecurityContext == nil {
		obj.SecurityContext = &corev1.PodSecurityContext{}
	}
	if obj.TerminationGracePeriodSeconds == nil {
		obj.TerminationGracePeriodSeconds = ptr.To[int64](corev1.DefaultTerminationGracePeriodSeconds)
	}
	if obj.SchedulerName == "" {
		obj.SchedulerName = corev1.DefaultSchedulerName
	}
}

// SetDefaultsReplicationController copies the template labels to the selector and the object
// labels when those are empty.
func SetDefaultsReplicationController(obj *corev1.ReplicationController) {
	var labels map[string]string
	if obj.Spec.Template != nil {
		labels = obj.Spec.Template.Labels
	}
	if labels != nil {
		if len(obj.Spec.Selector) == 0 {
			obj.Spec.Selector = labels
		}
		if len(obj.Labels) == 0 {
			obj.Labels = labels
		}
	}
}

// resourceList rounds every quantity up to milli scale (SetDefaults_ResourceList).
func resourceList(obj *corev1.ResourceList) {
	for k, v := range *obj {
		v.RoundUp(-3)
		(*obj)[k] = v
	}
}
