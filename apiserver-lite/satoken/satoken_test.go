package satoken

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/authentication/authenticator"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newECKey(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newTestIssuer returns an Issuer whose clock reads *clock.
func newTestIssuer(t *testing.T, key crypto.Signer, clock *time.Time) *Issuer {
	t.Helper()
	i, err := NewIssuer(key, DefaultIssuer)
	if err != nil {
		t.Fatal(err)
	}
	i.now = func() time.Time { return *clock }
	return i
}

// fakeGetter holds service accounts and pods by "namespace/name".
type fakeGetter struct {
	sas  map[string]*corev1.ServiceAccount
	pods map[string]*corev1.Pod
}

func (f *fakeGetter) GetServiceAccount(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	if sa, ok := f.sas[ns+"/"+name]; ok {
		return sa, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("serviceaccounts"), name)
}

func (f *fakeGetter) GetPod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	if p, ok := f.pods[ns+"/"+name]; ok {
		return p, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("pods"), name)
}

func newFakeGetter() *fakeGetter {
	return &fakeGetter{
		sas: map[string]*corev1.ServiceAccount{
			"kube-system/kube-proxy": {ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy", UID: "sa-uid-1"}},
		},
		pods: map[string]*corev1.Pod{
			"kube-system/kube-proxy-abcde": {ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy-abcde", UID: "pod-uid-1"}},
		},
	}
}

var (
	saClaims  = Claims{Namespace: "kube-system", ServiceAccount: Ref{Name: "kube-proxy", UID: "sa-uid-1"}}
	podClaims = Claims{
		Namespace:      "kube-system",
		ServiceAccount: Ref{Name: "kube-proxy", UID: "sa-uid-1"},
		Pod:            &Ref{Name: "kube-proxy-abcde", UID: "pod-uid-1"},
		Node:           &Ref{Name: "node-1", UID: "node-uid-1"},
	}
)

func TestAuthenticateToken(t *testing.T) {
	type result struct {
		ok      bool
		errKind error // nil: no error expected
	}
	for _, tc := range []struct {
		name      string
		claims    Claims
		audiences []string
		// at is when the token is presented, relative to t0 (when it is issued, valid for 10m).
		at      time.Duration
		ctxAuds []string // request audiences put in the context, if any
		tamper  func(t *testing.T, token string) string
		getter  func(g *fakeGetter)
		want    result
	}{
		{name: "valid", claims: saClaims, want: result{ok: true}},
		{name: "valid pod-bound", claims: podClaims, want: result{ok: true}},
		{name: "valid within leeway after expiry", claims: saClaims, at: 10*time.Minute + 30*time.Second, want: result{ok: true}},
		{name: "expired", claims: saClaims, at: 10*time.Minute + Leeway + time.Second, want: result{errKind: ErrExpired}},
		{name: "not valid yet", claims: saClaims, at: -Leeway - time.Second, want: result{errKind: ErrNotValidYet}},
		{name: "wrong audience", claims: saClaims, audiences: []string{"vault"}, want: result{errKind: ErrInvalidAudience}},
		{name: "audience requested by the context", claims: saClaims, audiences: []string{"vault"}, ctxAuds: []string{"vault"}, want: result{ok: true}},
		{name: "context audience not in token", claims: saClaims, ctxAuds: []string{"vault"}, want: result{errKind: ErrInvalidAudience}},
		{
			name: "tampered signature", claims: saClaims, want: result{errKind: ErrInvalidSignature},
			tamper: func(t *testing.T, tok string) string {
				sig := []byte(tok[strings.LastIndex(tok, ".")+1:])
				// Replace one character by another of the base64url alphabet so the token still decodes.
				if sig[5] == 'A' {
					sig[5] = 'B'
				} else {
					sig[5] = 'A'
				}
				return tok[:strings.LastIndex(tok, ".")+1] + string(sig)
			},
		},
		{
			name: "tampered claims", claims: saClaims, want: result{errKind: ErrInvalidSignature},
			tamper: func(t *testing.T, tok string) string {
				return rewritePayload(t, tok, func(p *payload) {
					p.Kubernetes.Namespace = "default"
					p.Subject = "system:serviceaccount:default:kube-proxy"
				})
			},
		},
		{
			name: "alg none", claims: saClaims, want: result{errKind: ErrInvalidSignature},
			tamper: func(t *testing.T, tok string) string {
				parts := strings.Split(tok, ".")
				return b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
			},
		},
		{
			name: "signed by another key", claims: saClaims, want: result{errKind: ErrInvalidSignature},
			tamper: func(t *testing.T, tok string) string {
				clock := t0
				other := newTestIssuer(t, newECKey(t), &clock)
				tok, _, err := other.Issue(saClaims, []string{DefaultIssuer}, 10*time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				return tok
			},
		},
		{
			name: "another issuer is left to other authenticators", claims: saClaims, want: result{},
			tamper: func(t *testing.T, tok string) string {
				clock := t0
				other, err := NewIssuer(newECKey(t), "https://oidc.example")
				if err != nil {
					t.Fatal(err)
				}
				other.now = func() time.Time { return clock }
				tok, _, err = other.Issue(saClaims, []string{DefaultIssuer}, 10*time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				return tok
			},
		},
		{name: "not a JWT", claims: saClaims, want: result{}, tamper: func(*testing.T, string) string { return "abcdef0123456789" }},
		{name: "service account deleted", claims: saClaims, want: result{errKind: ErrInvalidated},
			getter: func(g *fakeGetter) { delete(g.sas, "kube-system/kube-proxy") }},
		{name: "service account being deleted", claims: saClaims, want: result{errKind: ErrInvalidated},
			getter: func(g *fakeGetter) {
				g.sas["kube-system/kube-proxy"].DeletionTimestamp = &metav1.Time{Time: t0.Add(-2 * Leeway)}
			}},
		{name: "service account deletion just started", claims: saClaims, want: result{ok: true},
			getter: func(g *fakeGetter) {
				g.sas["kube-system/kube-proxy"].DeletionTimestamp = &metav1.Time{Time: t0.Add(-Leeway / 2)}
			}},
		{name: "service account recreated with a new UID", claims: saClaims, want: result{errKind: ErrInvalidated},
			getter: func(g *fakeGetter) { g.sas["kube-system/kube-proxy"].UID = types.UID("sa-uid-2") }},
		{name: "pod deleted", claims: podClaims, want: result{errKind: ErrInvalidated},
			getter: func(g *fakeGetter) { delete(g.pods, "kube-system/kube-proxy-abcde") }},
		{name: "pod recreated with a new UID", claims: podClaims, want: result{errKind: ErrInvalidated},
			getter: func(g *fakeGetter) { g.pods["kube-system/kube-proxy-abcde"].UID = types.UID("pod-uid-2") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := t0
			iss := newTestIssuer(t, newECKey(t), &clock)
			g := newFakeGetter()
			if tc.getter != nil {
				tc.getter(g)
			}
			auds := tc.audiences
			if auds == nil {
				auds = []string{DefaultIssuer}
			}
			tok, exp, err := iss.Issue(tc.claims, auds, 10*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if !exp.Equal(t0.Add(10 * time.Minute)) {
				t.Errorf("expiry = %s, want %s", exp, t0.Add(10*time.Minute))
			}
			if tc.tamper != nil {
				tok = tc.tamper(t, tok)
			}
			ctx := context.Background()
			if tc.ctxAuds != nil {
				ctx = authenticator.WithAudiences(ctx, tc.ctxAuds)
			}
			clock = t0.Add(tc.at)

			resp, ok, err := iss.Authenticator(nil, g).AuthenticateToken(ctx, tok)
			if tc.want.errKind == nil && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.want.errKind != nil && !errors.Is(err, tc.want.errKind) {
				t.Fatalf("error = %v, want %v", err, tc.want.errKind)
			}
			if ok != tc.want.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.want.ok)
			}
			if ok {
				checkUser(t, resp, tc.claims, tok)
			}
		})
	}
}

// checkUser compares the authenticated user with kube-apiserver's service-account identity.
func checkUser(t *testing.T, resp *authenticator.Response, c Claims, tok string) {
	t.Helper()
	u := resp.User
	if got, want := u.GetName(), "system:serviceaccount:"+c.Namespace+":"+c.ServiceAccount.Name; got != want {
		t.Errorf("name = %q, want %q", got, want)
	}
	if u.GetUID() != c.ServiceAccount.UID {
		t.Errorf("uid = %q, want %q", u.GetUID(), c.ServiceAccount.UID)
	}
	wantGroups := []string{"system:serviceaccounts", "system:serviceaccounts:" + c.Namespace, "system:authenticated"}
	if !slices.Equal(u.GetGroups(), wantGroups) {
		t.Errorf("groups = %v, want %v", u.GetGroups(), wantGroups)
	}
	extra := u.GetExtra()
	var p payload
	parts, err := parseJWS(tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(parts.payload, &p); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=" + p.ID}}
	if c.Pod != nil {
		want["authentication.kubernetes.io/pod-name"] = []string{c.Pod.Name}
		want["authentication.kubernetes.io/pod-uid"] = []string{c.Pod.UID}
	}
	if c.Node != nil {
		want["authentication.kubernetes.io/node-name"] = []string{c.Node.Name}
		want["authentication.kubernetes.io/node-uid"] = []string{c.Node.UID}
	}
	if len(extra) != len(want) {
		t.Errorf("extra = %v, want %v", extra, want)
	}
	for k, v := range want {
		if !slices.Equal(extra[k], v) {
			t.Errorf("extra[%s] = %v, want %v", k, extra[k], v)
		}
	}
	if len(resp.Audiences) == 0 {
		t.Error("response carries no audiences")
	}
}

// rewritePayload replaces a token's claims but keeps its header and signature.
func rewritePayload(t *testing.T, tok string, edit func(*payload)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	edit(&p)
	raw, err = json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return parts[0] + "." + b64.EncodeToString(raw) + "." + parts[2]
}

func TestTokenShape(t *testing.T) {
	clock := t0
	iss := newTestIssuer(t, newECKey(t), &clock)
	tok, _, err := iss.Issue(podClaims, []string{"https://kubernetes.default.svc.cluster.local", "vault"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	var hdr, body map[string]any
	for i, dst := range []*map[string]any{&hdr, &body} {
		raw, err := b64.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	if hdr["alg"] != "ES256" || hdr["kid"] != iss.KeyID() || iss.KeyID() == "" {
		t.Errorf("header = %v", hdr)
	}
	want := map[string]any{
		"iss": DefaultIssuer,
		"sub": "system:serviceaccount:kube-system:kube-proxy",
		"aud": []any{"https://kubernetes.default.svc.cluster.local", "vault"},
		"iat": float64(t0.Unix()),
		"nbf": float64(t0.Unix()),
		"exp": float64(t0.Add(time.Hour).Unix()),
		"kubernetes.io": map[string]any{
			"namespace":      "kube-system",
			"serviceaccount": map[string]any{"name": "kube-proxy", "uid": "sa-uid-1"},
			"pod":            map[string]any{"name": "kube-proxy-abcde", "uid": "pod-uid-1"},
			"node":           map[string]any{"name": "node-1", "uid": "node-uid-1"},
		},
	}
	for k, v := range want {
		got, _ := json.Marshal(body[k])
		exp, _ := json.Marshal(v)
		if string(got) != string(exp) {
			t.Errorf("claim %s = %s, want %s", k, got, exp)
		}
	}
	if jti, _ := body["jti"].(string); len(jti) != 36 {
		t.Errorf("jti = %v, want a UUID", body["jti"])
	}
}

func TestRSAKey(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	clock := t0
	iss := newTestIssuer(t, key, &clock)
	if iss.Algorithm() != "RS256" {
		t.Fatalf("algorithm = %s, want RS256", iss.Algorithm())
	}
	tok, _, err := iss.Issue(saClaims, []string{"api"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	auth := iss.Authenticator([]string{"api"}, newFakeGetter())
	if _, ok, err := auth.AuthenticateToken(context.Background(), tok); !ok || err != nil {
		t.Fatalf("RS256 token rejected: ok=%v err=%v", ok, err)
	}
	tampered := rewritePayload(t, tok, func(p *payload) { p.Expiry += 3600 })
	if _, _, err := auth.AuthenticateToken(context.Background(), tampered); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("tampered RS256 token: err=%v, want %v", err, ErrInvalidSignature)
	}
}

func TestIssueRejects(t *testing.T) {
	clock := t0
	iss := newTestIssuer(t, newECKey(t), &clock)
	for _, tc := range []struct {
		name      string
		claims    Claims
		audiences []string
		ttl       time.Duration
		wantErr   string
	}{
		{"no namespace", Claims{ServiceAccount: Ref{Name: "a", UID: "u"}}, []string{"x"}, time.Hour, "namespace is required"},
		{"no service account UID", Claims{Namespace: "ns", ServiceAccount: Ref{Name: "a"}}, []string{"x"}, time.Hour, "name and UID are required"},
		{"pod without UID", Claims{Namespace: "ns", ServiceAccount: Ref{Name: "a", UID: "u"}, Pod: &Ref{Name: "p"}}, []string{"x"}, time.Hour, "pod name and UID"},
		{"node without pod", Claims{Namespace: "ns", ServiceAccount: Ref{Name: "a", UID: "u"}, Node: &Ref{Name: "n"}}, []string{"x"}, time.Hour, "without a pod"},
		{"no audience", saClaims, nil, time.Hour, "at least one audience"},
		{"zero lifetime", saClaims, []string{"x"}, 0, "too short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := iss.Issue(tc.claims, tc.audiences, tc.ttl)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewIssuerRejects(t *testing.T) {
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		url  string
	}{
		{"nil key", nil, DefaultIssuer},
		{"empty issuer", newECKey(t), ""},
		{"unsupported curve", p224, DefaultIssuer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewIssuer(tc.key, tc.url); err == nil {
				t.Fatal("NewIssuer succeeded")
			}
		})
	}
}

func TestAudienceAcceptsString(t *testing.T) {
	var p payload
	if err := json.Unmarshal([]byte(`{"aud":"api","exp":1.7e9}`), &p); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Audience, audience{"api"}) || p.Expiry != 1700000000 {
		t.Fatalf("payload = %+v", p)
	}
}
