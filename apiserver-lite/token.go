package apiserver

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/svclab/svclab/apiserver-lite/satoken"
)

// tokenREST serves serviceaccounts/token (TokenRequest): `kubectl create token NAME`, and
// the tokens kubelet-lite mounts into pods.
type tokenREST struct {
	s *Server
}

var (
	_ rest.NamedCreater             = (*tokenREST)(nil)
	_ rest.GroupVersionKindProvider = (*tokenREST)(nil)
)

func (r *tokenREST) New() runtime.Object   { return &authenticationv1.TokenRequest{} }
func (r *tokenREST) Destroy()              {}
func (r *tokenREST) NamespaceScoped() bool { return true }
func (r *tokenREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")
}

func (r *tokenREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req, ok := obj.(*authenticationv1.TokenRequest)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a TokenRequest: %T", obj))
	}
	ttl := int64(3600)
	if req.Spec.ExpirationSeconds != nil {
		ttl = *req.Spec.ExpirationSeconds
	}
	if ttl < 600 {
		errs := field.ErrorList{field.Invalid(field.NewPath("spec", "expirationSeconds"), ttl, "may not specify a duration less than 10 minutes")}
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: "authentication.k8s.io", Kind: "TokenRequest"}, name, errs)
	}
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	saObj, err := r.s.stores[corev1.Resource("serviceaccounts")].Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	sa := saObj.(*corev1.ServiceAccount)
	claims := satoken.Claims{Namespace: ns, ServiceAccount: satoken.Ref{Name: sa.Name, UID: string(sa.UID)}}
	if ref := req.Spec.BoundObjectRef; ref != nil {
		if ref.Kind != "Pod" {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token to %s: only pods are supported", ref.Kind))
		}
		podObj, err := r.s.stores[corev1.Resource("pods")].Get(ctx, ref.Name, &metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		pod := podObj.(*corev1.Pod)
		if ref.UID != "" && ref.UID != pod.UID {
			return nil, apierrors.NewConflict(corev1.Resource("pods"), ref.Name, fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
		}
		claims.Pod = &satoken.Ref{Name: pod.Name, UID: string(pod.UID)}
	}
	audiences := req.Spec.Audiences
	if len(audiences) == 0 {
		audiences = []string{satoken.DefaultIssuer}
	}
	token, exp, err := r.s.Issuer.Issue(claims, audiences, time.Duration(ttl)*time.Second)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	out := req.DeepCopy()
	out.Name, out.Namespace = name, ns
	out.Spec.Audiences = audiences
	out.Spec.ExpirationSeconds = &ttl
	out.Status = authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(exp)}
	return out, nil
}
