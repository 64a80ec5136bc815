package defaults

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// container applies SetDefaults_Container and the nested defaults of ports, env, resources,
// probes and lifecycle handlers.
func container(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = PullPolicyFor(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil {
			if vf.FieldRef != nil {
				objectFieldSelector(vf.FieldRef)
			}
			if vf.FileKeyRef != nil && vf.FileKeyRef.Optional == nil {
				vf.FileKeyRef.Optional = ptr.To(false)
			}
		}
	}
	resourceList(&c.Resources.Limits)
	resourceList(&c.Resources.Requests)
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		if p != nil {
			probe(p)
		}
	}
	if c.Lifecycle != nil {
		for _, h := range []*corev1.LifecycleHandler{c.Lifecycle.PostStart, c.Lifecycle.PreStop} {
			if h != nil && h.HTTPGet != nil {
				httpGetAction(h.HTTPGet)
			}
		}
	}
}

// PullPolicyFor returns the imagePullPolicy Kubernetes defaults for an image: Always for the
// :latest tag or no tag at all, IfNotPresent otherwise (including digests and images that do not
// parse, for which upstream ignores the parse error).
func PullPolicyFor(image string) corev1.PullPolicy {
	if imageTag(image) == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// imageTag mirrors parsers.ParseImageName: the tag of a reference, "latest" when it has neither
// tag nor digest, and "" for a digest-only or malformed reference.
func imageTag(image string) string {
	if image == "" || strings.TrimSpace(image) != image {
		return ""
	}
	name := image
	digest := ""
	if at := strings.Index(name, "@"); at >= 0 {
		name, digest = name[:at], name[at+1:]
		if digest == "" {
			return ""
		}
	}
	tag := ""
	lastSlash := strings.LastIndex(name, "/")
	if colon := strings.LastIndex(name, ":"); colon > lastSlash {
		name, tag = name[:colon], name[colon+1:]
		if tag == "" {
			return ""
		}
	}
	// The repository path of a reference must be lower case; the registry host may not be.
	repo := name
	if lastSlash >= 0 {
		first := name[:strings.Index(name, "/")]
		if strings.ContainsAny(first, ".:") || first == "localhost" {
			repo = name[len(first)+1:]
		}
	}
	if repo == "" || strings.ToLower(repo) != repo {
		return ""
	}
	if tag == "" && digest == "" {
		return "latest"
	}
	return tag
}

// probe applies SetDefaults_Probe and the defaults of its handler.
func probe(p *corev1.Probe) {
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	if p.HTTPGet != nil {
		httpGetAction(p.HTTPGet)
	}
	if p.GRPC != nil && p.GRPC.Service == nil {
		p.GRPC.Service = ptr.To("")
	}
}

func httpGetAction(h *corev1.HTTPGetAction) {
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

func objectFieldSelector(s *corev1.ObjectFieldSelector) {
	if s.APIVersion == "" {
		s.APIVersion = "v1"
	}
}
