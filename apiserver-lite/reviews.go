package apiserver

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// The lab authorizes every authenticated user for everything (see server.go), so access
// reviews answer "allowed" with that reason; they exist so `kubectl auth can-i` and
// `kubectl auth whoami` work as on a cluster.

type selfSubjectAccessReviewREST struct{}

var _ rest.Creater = selfSubjectAccessReviewREST{}

func (selfSubjectAccessReviewREST) New() runtime.Object {
	return &authorizationv1.SelfSubjectAccessReview{}
}
func (selfSubjectAccessReviewREST) Destroy()                {}
func (selfSubjectAccessReviewREST) NamespaceScoped() bool   { return false }
func (selfSubjectAccessReviewREST) GetSingularName() string { return "selfsubjectaccessreview" }

func (selfSubjectAccessReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	review, ok := obj.(*authorizationv1.SelfSubjectAccessReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a SelfSubjectAccessReview: %T", obj))
	}
	if review.Spec.ResourceAttributes == nil && review.Spec.NonResourceAttributes == nil {
		return nil, apierrors.NewBadRequest("exactly one of nonResourceAttributes or resourceAttributes must be specified")
	}
	if _, ok := genericapirequest.UserFrom(ctx); !ok {
		return nil, apierrors.NewBadRequest("no user present on request")
	}
	out := review.DeepCopy()
	out.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: "svclab authorizes every authenticated user"}
	return out, nil
}

type selfSubjectRulesReviewREST struct{}

var _ rest.Creater = selfSubjectRulesReviewREST{}

func (selfSubjectRulesReviewREST) New() runtime.Object {
	return &authorizationv1.SelfSubjectRulesReview{}
}
func (selfSubjectRulesReviewREST) Destroy()                {}
func (selfSubjectRulesReviewREST) NamespaceScoped() bool   { return false }
func (selfSubjectRulesReviewREST) GetSingularName() string { return "selfsubjectrulesreview" }

func (selfSubjectRulesReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	review, ok := obj.(*authorizationv1.SelfSubjectRulesReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a SelfSubjectRulesReview: %T", obj))
	}
	out := review.DeepCopy()
	out.Status = authorizationv1.SubjectRulesReviewStatus{
		ResourceRules:    []authorizationv1.ResourceRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}},
		NonResourceRules: []authorizationv1.NonResourceRule{{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}},
	}
	return out, nil
}

type selfSubjectReviewREST struct{}

var _ rest.Creater = selfSubjectReviewREST{}

func (selfSubjectReviewREST) New() runtime.Object     { return &authenticationv1.SelfSubjectReview{} }
func (selfSubjectReviewREST) Destroy()                {}
func (selfSubjectReviewREST) NamespaceScoped() bool   { return false }
func (selfSubjectReviewREST) GetSingularName() string { return "selfsubjectreview" }

func (selfSubjectReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewBadRequest("no user present on request")
	}
	extra := map[string]authenticationv1.ExtraValue{}
	for k, v := range u.GetExtra() {
		extra[k] = v
	}
	return &authenticationv1.SelfSubjectReview{
		ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.Now()},
		Status: authenticationv1.SelfSubjectReviewStatus{UserInfo: authenticationv1.UserInfo{
			Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups(), Extra: extra}},
	}, nil
}
