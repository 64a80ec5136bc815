package grade

import (
	"context"
	"fmt"
	"sort"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svclab/svclab/exercises"
)

// endpointIPs returns a Service's ready and not-ready endpoint addresses from its
// EndpointSlices (serving-but-terminating endpoints count as not ready).
func (g *Grader) endpointIPs(ctx context.Context, ns, svc string) (ready, notReady []string, err error) {
	l, err := g.client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		return nil, nil, fmt.Errorf("list EndpointSlices of %s/%s: %v", ns, svc, shortErr(err))
	}
	seenR, seenN := map[string]bool{}, map[string]bool{}
	for _, s := range l.Items {
		for _, ep := range s.Endpoints {
			isReady := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			for _, a := range ep.Addresses {
				if isReady && !seenR[a] {
					seenR[a] = true
					ready = append(ready, a)
				} else if !isReady && !seenN[a] {
					seenN[a] = true
					notReady = append(notReady, a)
				}
			}
		}
	}
	sort.Strings(ready)
	sort.Strings(notReady)
	return ready, notReady, nil
}

func (g *Grader) checkEndpoints(ctx context.Context, e *exercises.Exercise, c *exercises.EndpointsCheck) CheckResult {
	ns := nsOf(e, c.Namespace)
	ready, notReady, err := g.endpointIPs(ctx, ns, c.Service)
	if err != nil {
		return errored(err)
	}
	saw := fmt.Sprintf("service %s/%s has %d ready endpoints %v and %d not ready %v", ns, c.Service, len(ready), ready, len(notReady), notReady)
	if !c.Ready.Match(len(ready)) {
		return failed("%s; want ready %s", saw, c.Ready)
	}
	if !c.NotReady.Match(len(notReady)) {
		return failed("%s; want not ready %s", saw, c.NotReady)
	}
	return passed("%s", saw)
}
