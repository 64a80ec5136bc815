package namespace

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// conditionTypes are the namespace conditions this controller maintains,
// with the reasons and messages of upstream's status_condition_utils.go.
var (
	conditionTypes = []v1.NamespaceConditionType{
		v1.NamespaceDeletionDiscoveryFailure,
		v1.NamespaceDeletionGVParsingFailure,
		v1.NamespaceDeletionContentFailure,
		v1.NamespaceContentRemaining,
		v1.NamespaceFinalizersRemaining,
	}
	okMessages = map[v1.NamespaceConditionType]string{
		v1.NamespaceDeletionDiscoveryFailure: "All resources successfully discovered",
		v1.NamespaceDeletionGVParsingFailure: "All legacy kube types successfully parsed",
		v1.NamespaceDeletionContentFailure:   "All content successfully deleted, may be waiting on finalization",
		v1.NamespaceContentRemaining:         "All content successfully removed",
		v1.NamespaceFinalizersRemaining:      "All content successfully removed",
	}
	okReasons = map[v1.NamespaceConditionType]string{
		v1.NamespaceDeletionDiscoveryFailure: "ResourcesDiscovered",
		v1.NamespaceDeletionGVParsingFailure: "ParsedGroupVersions",
		v1.NamespaceDeletionContentFailure:   "ContentDeleted",
		v1.NamespaceContentRemaining:         "ContentRemoved",
		v1.NamespaceFinalizersRemaining:      "ContentRemoved",
	}
)

type contentTotals struct {
	gvrToNumRemaining        map[schema.GroupVersionResource]int
	finalizersToNumRemaining map[string]int
}

// conditionUpdater turns deletion errors and leftovers into conditions.
type conditionUpdater struct {
	newConditions       []v1.NamespaceCondition
	deleteContentErrors []error
}

func (u *conditionUpdater) processGroupVersionErr(err error) {
	u.newConditions = append(u.newConditions, v1.NamespaceCondition{
		Type: v1.NamespaceDeletionGVParsingFailure, Status: v1.ConditionTrue, LastTransitionTime: metav1.Now(),
		Reason: "GroupVersionParsingFailed", Message: err.Error(),
	})
}

func (u *conditionUpdater) processDiscoverResourcesErr(err error) {
	msg := err.Error()
	var derr *discovery.ErrGroupDiscoveryFailed
	if errors.As(err, &derr) {
		msg = fmt.Sprintf("Discovery failed for some groups, %d failing: %v", len(derr.Groups), err)
	}
	u.newConditions = append(u.newConditions, v1.NamespaceCondition{
		Type: v1.NamespaceDeletionDiscoveryFailure, Status: v1.ConditionTrue, LastTransitionTime: metav1.Now(),
		Reason: "DiscoveryFailed", Message: msg,
	})
}

func (u *conditionUpdater) processDeleteContentErr(err error) {
	u.deleteContentErrors = append(u.deleteContentErrors, err)
}

func (u *conditionUpdater) processContentTotals(t contentTotals) {
	if len(t.gvrToNumRemaining) != 0 {
		var remaining []string
		for gvr, n := range t.gvrToNumRemaining {
			if n > 0 {
				remaining = append(remaining, fmt.Sprintf("%s.%s has %d resource instances", gvr.Resource, gvr.Group, n))
			}
		}
		sort.Strings(remaining)
		u.newConditions = append(u.newConditions, v1.NamespaceCondition{
			Type: v1.NamespaceContentRemaining, Status: v1.ConditionTrue, LastTransitionTime: metav1.Now(),
			Reason: "SomeResourcesRemain", Message: "Some resources are remaining: " + strings.Join(remaining, ", "),
		})
	}
	if len(t.finalizersToNumRemaining) != 0 {
		var remaining []string
		for f, n := range t.finalizersToNumRemaining {
			if n > 0 {
				remaining = append(remaining, fmt.Sprintf("%s in %d resource instances", f, n))
			}
		}
		sort.Strings(remaining)
		u.newConditions = append(u.newConditions, v1.NamespaceCondition{
			Type: v1.NamespaceFinalizersRemaining, Status: v1.ConditionTrue, LastTransitionTime: metav1.Now(),
			Reason: "SomeFinalizerRemain", Message: "Some finalizers are remaining: " + strings.Join(remaining, ", "),
		})
	}
}

// update writes the conditions into ns.Status and reports whether anything
// changed. Condition types without a failure get their "ok" variant.
func (u *conditionUpdater) update(ns *v1.Namespace) bool {
	if getCondition(u.newConditions, v1.NamespaceDeletionContentFailure) == nil && len(u.deleteContentErrors) > 0 {
		msgs := make([]string, 0, len(u.deleteContentErrors))
		for _, e := range u.deleteContentErrors {
			msgs = append(msgs, e.Error())
		}
		sort.Strings(msgs)
		u.newConditions = append(u.newConditions, v1.NamespaceCondition{
			Type: v1.NamespaceDeletionContentFailure, Status: v1.ConditionTrue, LastTransitionTime: metav1.Now(),
			Reason:  "ContentDeletionFailed",
			Message: fmt.Sprintf("Failed to delete all resource types, %d remaining: %v", len(u.deleteContentErrors), strings.Join(msgs, ", ")),
		})
	}
	changed := false
	for _, ct := range conditionTypes {
		nc := getCondition(u.newConditions, ct)
		if nc == nil {
			nc = &v1.NamespaceCondition{Type: ct, Status: v1.ConditionFalse, LastTransitionTime: metav1.Now(), Reason: okReasons[ct], Message: okMessages[ct]}
		}
		oc := getCondition(ns.Status.Conditions, ct)
		switch {
		case oc == nil:
			ns.Status.Conditions = append(ns.Status.Conditions, *nc)
			changed = true
		case oc.Status != nc.Status || oc.Message != nc.Message || oc.Reason != nc.Reason:
			if oc.Status != nc.Status {
				oc.LastTransitionTime = metav1.Now()
			}
			oc.Status, oc.Reason, oc.Message = nc.Status, nc.Reason, nc.Message
			changed = true
		}
	}
	return changed
}

func getCondition(conds []v1.NamespaceCondition, t v1.NamespaceConditionType) *v1.NamespaceCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}
