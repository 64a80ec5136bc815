package satoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	apiserverserviceaccount "k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/token/jwt"
	"k8s.io/apiserver/pkg/authentication/user"
)

// Leeway is the clock skew tolerated on exp, nbf and iat, and the grace given to objects whose
// deletion has just started (go-jose's DefaultLeeway, which kube-apiserver uses).
const Leeway = time.Minute

// Error kinds returned by the token authenticator, for errors.Is. The messages follow kube-apiserver's.
var (
	ErrInvalidSignature = errors.New("service account token signature is invalid")
	ErrExpired          = errors.New("service account token has expired")
	ErrNotValidYet      = errors.New("service account token is not valid yet")
	ErrInvalidAudience  = errors.New("service account token audience is invalid")
	ErrInvalidated      = errors.New("service account token has been invalidated")
	ErrMalformed        = errors.New("service account token claims are malformed")
)

// Getter looks up the objects a token is bound to; it typically reads the API server's storage
// or an informer cache. A NotFound error means the object is gone and invalidates the token.
type Getter interface {
	GetServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
	GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
}

// GetterFuncs adapts two functions to Getter. A nil Pod function fails every pod-bound token.
type GetterFuncs struct {
	ServiceAccount func(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
	Pod            func(ctx context.Context, namespace, name string) (*corev1.Pod, error)
}

var _ Getter = GetterFuncs{}

// GetServiceAccount calls f.ServiceAccount.
func (f GetterFuncs) GetServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	if f.ServiceAccount == nil {
		return nil, errors.New("service account lookups are not configured")
	}
	return f.ServiceAccount(ctx, namespace, name)
}

// GetPod calls f.Pod.
func (f GetterFuncs) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	if f.Pod == nil {
		return nil, errors.New("pod lookups are not configured")
	}
	return f.Pod(ctx, namespace, name)
}

// tokenAuthenticator is kube-apiserver's service-account JWT authenticator for one Issuer.
type tokenAuthenticator struct {
	issuer       *Issuer
	implicitAuds authenticator.Audiences
	getter       Getter
}

// Authenticator returns a bearer-token authenticator for the tokens this Issuer signs, as
// kube-apiserver's service-account authenticator does: tokens from other issuers (or that are not
// JWTs) are left to other authenticators (ok=false, no error); tokens of this issuer must carry a
// valid signature, be within exp/nbf (with Leeway), share an audience with the request's audiences
// (authenticator.AudiencesFrom, else apiAudiences; empty apiAudiences means the issuer URL, like
// kube-apiserver's --api-audiences default), and name a ServiceAccount — and Pod, when bound —
// that still exists with the same UID. The user is system:serviceaccount:NS:NAME with the service
// account's UID, groups system:serviceaccounts, system:serviceaccounts:NS and system:authenticated,
// and extra pod-name/pod-uid, node-name/node-uid and credential-id (JTI=...) as upstream.
func (i *Issuer) Authenticator(apiAudiences []string, getter Getter) authenticator.Token {
	auds := authenticator.Audiences(apiAudiences)
	if len(auds) == 0 {
		auds = authenticator.Audiences{i.issuer}
	}
	return &tokenAuthenticator{issuer: i, implicitAuds: auds, getter: getter}
}

// AuthenticateToken implements authenticator.Token.
func (a *tokenAuthenticator) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	jws, err := parseJWS(token)
	if err != nil {
		return nil, false, nil // not a JWT: not ours
	}
	var claims payload
	if err := json.Unmarshal(jws.payload, &claims); err != nil {
		return nil, false, nil
	}
	// The issuer is read before the signature is checked only to decide whether the token is ours.
	if claims.Issuer != a.issuer.issuer {
		return nil, false, nil
	}
	if err := jws.verify(a.issuer.key.Public(), a.issuer.alg); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}

	requested, ok := authenticator.AudiencesFrom(ctx)
	if !ok {
		requested = a.implicitAuds
	}
	auds := authenticator.Audiences(claims.Audience).Intersect(requested)
	if len(auds) == 0 {
		return nil, false, fmt.Errorf("%w: token audiences %q is invalid for the target audiences %q",
			ErrInvalidAudience, []string(claims.Audience), []string(requested))
	}

	now := a.issuer.now()
	if err := validateTimes(&claims, now); err != nil {
		return nil, false, err
	}
	info, err := a.validateObjects(ctx, &claims, now)
	if err != nil {
		return nil, false, err
	}
	sa := info.UserInfo()
	u := &user.DefaultInfo{
		Name:   sa.GetName(),
		UID:    sa.GetUID(),
		Groups: append(slices.Clone(sa.GetGroups()), user.AllAuthenticated),
		Extra:  sa.GetExtra(),
	}
	return &authenticator.Response{User: u, Audiences: auds}, true, nil
}

func validateTimes(c *payload, now time.Time) error {
	if c.Expiry == 0 || now.After(c.Expiry.Time().Add(Leeway)) {
		return ErrExpired
	}
	if c.NotBefore != 0 && now.Add(Leeway).Before(c.NotBefore.Time()) {
		return ErrNotValidYet
	}
	if c.IssuedAt != 0 && now.Add(Leeway).Before(c.IssuedAt.Time()) {
		return fmt.Errorf("%w: issued in the future", ErrNotValidYet)
	}
	return nil
}

// validateObjects checks that the service account (and pod) named by the token still exist with
// the UIDs in the token, and builds the authenticated service-account identity.
func (a *tokenAuthenticator) validateObjects(ctx context.Context, c *payload, now time.Time) (*apiserverserviceaccount.ServiceAccountInfo, error) {
	k := c.Kubernetes
	if k == nil || k.Namespace == "" || k.ServiceAccount.Name == "" {
		return nil, fmt.Errorf("%w: missing kubernetes.io namespace or service account", ErrMalformed)
	}
	if c.Subject != apiserverserviceaccount.MakeUsername(k.Namespace, k.ServiceAccount.Name) {
		return nil, fmt.Errorf("%w: subject %q does not match the service account", ErrMalformed, c.Subject)
	}
	if k.Node != nil && k.Pod == nil {
		return nil, fmt.Errorf("%w: node-bound tokens without a pod are not supported", ErrMalformed)
	}
	deletedBefore := now.Add(-Leeway)

	sa, err := a.getter.GetServiceAccount(ctx, k.Namespace, k.ServiceAccount.Name)
	if err != nil {
		return nil, fmt.Errorf("%w: service account %s/%s: %w", ErrInvalidated, k.Namespace, k.ServiceAccount.Name, err)
	}
	if sa.DeletionTimestamp != nil && sa.DeletionTimestamp.Time.Before(deletedBefore) {
		return nil, fmt.Errorf("%w: service account %s/%s has been deleted", ErrInvalidated, k.Namespace, k.ServiceAccount.Name)
	}
	if string(sa.UID) != k.ServiceAccount.UID {
		return nil, fmt.Errorf("%w: service account UID (%s) does not match claim (%s)", ErrInvalidated, sa.UID, k.ServiceAccount.UID)
	}

	info := &apiserverserviceaccount.ServiceAccountInfo{
		Namespace:    k.Namespace,
		Name:         k.ServiceAccount.Name,
		UID:          k.ServiceAccount.UID,
		CredentialID: jwt.CredentialIDForJTI(c.ID),
	}
	if k.Pod != nil {
		pod, err := a.getter.GetPod(ctx, k.Namespace, k.Pod.Name)
		if err != nil {
			return nil, fmt.Errorf("%w: pod %s/%s: %w", ErrInvalidated, k.Namespace, k.Pod.Name, err)
		}
		if pod.DeletionTimestamp != nil && pod.DeletionTimestamp.Time.Before(deletedBefore) {
			return nil, fmt.Errorf("%w: pod %s/%s has been deleted", ErrInvalidated, k.Namespace, k.Pod.Name)
		}
		if string(pod.UID) != k.Pod.UID {
			return nil, fmt.Errorf("%w: pod UID (%s) does not match service account pod ref claim (%s)", ErrInvalidated, pod.UID, k.Pod.UID)
		}
		info.PodName, info.PodUID = k.Pod.Name, k.Pod.UID
		if k.Node != nil {
			// As upstream for pod-bound tokens: node claims are reported, not looked up.
			info.NodeName, info.NodeUID = k.Node.Name, k.Node.UID
		}
	}
	return info, nil
}
