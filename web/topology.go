package web

import (
	"context"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// Topology is GET /api/topology and each Server-Sent Event of /api/topology/events.
type Topology struct {
	Nodes    []TopoNode    `json:"nodes"`
	Pods     []TopoPod     `json:"pods"`
	Services []TopoService `json:"services"`
}

// TopoNode is a node with its addresses and readiness.
type TopoNode struct {
	Name    string   `json:"name"`
	IPs     []string `json:"ips"`
	Ready   bool     `json:"ready"`
	PodCIDR string   `json:"podCIDR,omitempty"`
}

// TopoPod is a pod with where it runs and whether it is ready.
type TopoPod struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	IP        string `json:"ip,omitempty"`
	Node      string `json:"node,omitempty"`
	Ready     bool   `json:"ready"`
	Phase     string `json:"phase"`
}

// TopoService is a Service with its addresses and the pods its EndpointSlices point to.
type TopoService struct {
	Namespace    string         `json:"namespace"`
	Name         string         `json:"name"`
	Type         string         `json:"type"`
	ClusterIP    string         `json:"clusterIP,omitempty"`
	ExternalName string         `json:"externalName,omitempty"`
	ExternalIPs  []string       `json:"externalIPs"`
	Ports        []TopoPort     `json:"ports"`
	Endpoints    []TopoEndpoint `json:"endpoints"`
}

// TopoPort is one Service port.
type TopoPort struct {
	Name       string `json:"name,omitempty"`
	Protocol   string `json:"protocol"`
	Port       int32  `json:"port"`
	TargetPort string `json:"targetPort"`
	NodePort   int32  `json:"nodePort,omitempty"`
}

// TopoEndpoint is one endpoint address: the link from a Service to a pod.
type TopoEndpoint struct {
	IP    string `json:"ip"`
	Ready bool   `json:"ready"`
	// Pod is "namespace/name" when the endpoint is a pod.
	Pod  string `json:"pod,omitempty"`
	Node string `json:"node,omitempty"`
}

// topology watches nodes, pods, Services and EndpointSlices through shared informers.
type topology struct {
	factory informers.SharedInformerFactory
	nodes   corelisters.NodeLister
	pods    corelisters.PodLister
	svcs    corelisters.ServiceLister
	slices  discoverylisters.EndpointSliceLister
	synced  []cache.InformerSynced
	hub     *hub
	log     *slog.Logger
}

func newTopology(client kubernetes.Interface, debounce time.Duration, log *slog.Logger) *topology {
	f := informers.NewSharedInformerFactory(client, 0)
	t := &topology{factory: f, log: log}
	ni, pi := f.Core().V1().Nodes(), f.Core().V1().Pods()
	si, ei := f.Core().V1().Services(), f.Discovery().V1().EndpointSlices()
	t.nodes, t.pods, t.svcs, t.slices = ni.Lister(), pi.Lister(), si.Lister(), ei.Lister()
	t.hub = newHub(t.snapshot, debounce)
	for _, inf := range []cache.SharedIndexInformer{ni.Informer(), pi.Informer(), si.Informer(), ei.Informer()} {
		t.synced = append(t.synced, inf.HasSynced)
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { t.hub.changed() },
			UpdateFunc: func(any, any) { t.hub.changed() },
			DeleteFunc: func(any) { t.hub.changed() },
		})
	}
	return t
}

func (t *topology) start(ctx context.Context) {
	t.factory.Start(ctx.Done())
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), t.synced...) {
			t.hub.ready()
		}
	}()
	go func() {
		<-ctx.Done()
		t.factory.Shutdown()
	}()
}

// snapshot builds the topology from the informers' caches, sorted for stable output.
func (t *topology) snapshot() Topology {
	out := Topology{Nodes: []TopoNode{}, Pods: []TopoPod{}, Services: []TopoService{}}
	nodes, _ := t.nodes.List(labels.Everything())
	for _, n := range nodes {
		tn := TopoNode{Name: n.Name, IPs: []string{}, PodCIDR: n.Spec.PodCIDR}
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP || a.Type == corev1.NodeExternalIP {
				tn.IPs = append(tn.IPs, a.Address)
			}
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				tn.Ready = c.Status == corev1.ConditionTrue
			}
		}
		out.Nodes = append(out.Nodes, tn)
	}
	podNode := map[string]string{}
	pods, _ := t.pods.List(labels.Everything())
	for _, p := range pods {
		tp := TopoPod{Namespace: p.Namespace, Name: p.Name, IP: p.Status.PodIP, Node: p.Spec.NodeName, Phase: string(p.Status.Phase)}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady {
				tp.Ready = c.Status == corev1.ConditionTrue
			}
		}
		if p.DeletionTimestamp != nil {
			tp.Phase = "Terminating"
		}
		podNode[p.Namespace+"/"+p.Name] = p.Spec.NodeName
		out.Pods = append(out.Pods, tp)
	}
	svcs, _ := t.svcs.List(labels.Everything())
	for _, s := range svcs {
		ts := TopoService{Namespace: s.Namespace, Name: s.Name, Type: string(s.Spec.Type), ClusterIP: s.Spec.ClusterIP,
			ExternalName: s.Spec.ExternalName, ExternalIPs: append([]string{}, s.Spec.ExternalIPs...),
			Ports: []TopoPort{}, Endpoints: []TopoEndpoint{}}
		if ts.Type == "" {
			ts.Type = string(corev1.ServiceTypeClusterIP)
		}
		for _, ing := range s.Status.LoadBalancer.Ingress {
			if ing.IP != "" {
				ts.ExternalIPs = append(ts.ExternalIPs, ing.IP)
			} else if ing.Hostname != "" {
				ts.ExternalIPs = append(ts.ExternalIPs, ing.Hostname)
			}
		}
		for _, p := range s.Spec.Ports {
			target := p.TargetPort.String()
			if p.TargetPort.IntVal == 0 && p.TargetPort.StrVal == "" {
				target = strconv.Itoa(int(p.Port)) // unset: the API's default is the port
			}
			ts.Ports = append(ts.Ports, TopoPort{Name: p.Name, Protocol: string(p.Protocol), Port: p.Port, TargetPort: target, NodePort: p.NodePort})
		}
		ts.Endpoints = t.endpoints(s.Namespace, s.Name, podNode)
		out.Services = append(out.Services, ts)
	}
	sort.Slice(out.Nodes, func(i, j int) bool { return out.Nodes[i].Name < out.Nodes[j].Name })
	sort.Slice(out.Pods, func(i, j int) bool {
		return out.Pods[i].Namespace+"/"+out.Pods[i].Name < out.Pods[j].Namespace+"/"+out.Pods[j].Name
	})
	sort.Slice(out.Services, func(i, j int) bool {
		return out.Services[i].Namespace+"/"+out.Services[i].Name < out.Services[j].Namespace+"/"+out.Services[j].Name
	})
	return out
}

// endpoints collects a Service's endpoint addresses from its EndpointSlices, once each.
func (t *topology) endpoints(ns, name string, podNode map[string]string) []TopoEndpoint {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name})
	slices, _ := t.slices.EndpointSlices(ns).List(sel)
	seen := map[string]bool{}
	out := []TopoEndpoint{}
	for _, sl := range slices {
		for _, ep := range sl.Endpoints {
			for _, addr := range ep.Addresses {
				if seen[addr] {
					continue
				}
				seen[addr] = true
				te := TopoEndpoint{IP: addr, Ready: ep.Conditions.Ready == nil || *ep.Conditions.Ready}
				if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
					pns := ep.TargetRef.Namespace
					if pns == "" {
						pns = ns
					}
					te.Pod = pns + "/" + ep.TargetRef.Name
					te.Node = podNode[te.Pod]
				}
				if ep.NodeName != nil && te.Node == "" {
					te.Node = *ep.NodeName
				}
				out = append(out, te)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.Compare(out[i].IP, out[j].IP) < 0 })
	return out
}
