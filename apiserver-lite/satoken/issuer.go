package satoken

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	apiserverserviceaccount "k8s.io/apiserver/pkg/authentication/serviceaccount"
)

// DefaultIssuer is kubeadm's --service-account-issuer; kube-apiserver also uses the issuer as
// the default API audience.
const DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

// Issuer signs service-account tokens with one key and verifies the tokens it signed.
type Issuer struct {
	key    crypto.Signer
	alg    algorithm
	kid    string
	issuer string
	now    func() time.Time
}

// NewIssuer returns an Issuer signing with key (RSA: RS256; ECDSA: ES256/384/512) and putting
// issuerURL in the "iss" claim.
func NewIssuer(key crypto.Signer, issuerURL string) (*Issuer, error) {
	if key == nil {
		return nil, errors.New("service-account issuer: nil signing key")
	}
	if issuerURL == "" {
		return nil, errors.New("service-account issuer: empty issuer URL")
	}
	alg, err := algorithmFor(key.Public())
	if err != nil {
		return nil, fmt.Errorf("service-account issuer: %w", err)
	}
	kid, err := keyID(key.Public())
	if err != nil {
		return nil, fmt.Errorf("service-account issuer: %w", err)
	}
	return &Issuer{key: key, alg: alg, kid: kid, issuer: issuerURL, now: time.Now}, nil
}

// IssuerURL returns the "iss" claim of the tokens this Issuer signs.
func (i *Issuer) IssuerURL() string { return i.issuer }

// KeyID returns the "kid" header of the tokens this Issuer signs.
func (i *Issuer) KeyID() string { return i.kid }

// Algorithm returns the JWS algorithm ("ES256", "RS256", ...) of the tokens this Issuer signs.
func (i *Issuer) Algorithm() string { return i.alg.name }

// PublicKey returns the key that verifies this Issuer's tokens.
func (i *Issuer) PublicKey() crypto.PublicKey { return i.key.Public() }

// Issue returns a signed JWT shaped like kube-apiserver's bound service-account tokens (what a
// TokenRequest returns): iss, sub "system:serviceaccount:NS:NAME", aud, exp, iat, nbf, a random
// jti, and the "kubernetes.io" claim naming the namespace, service account and, when bound, pod
// and node. It also returns the expiry. audiences must not be empty: default them to the API
// audiences, as the TokenRequest API does.
func (i *Issuer) Issue(c Claims, audiences []string, ttl time.Duration) (string, time.Time, error) {
	if err := c.validate(); err != nil {
		return "", time.Time{}, fmt.Errorf("issue service-account token: %w", err)
	}
	if len(audiences) == 0 {
		return "", time.Time{}, errors.New("issue service-account token: at least one audience is required")
	}
	if ttl < time.Second {
		return "", time.Time{}, fmt.Errorf("issue service-account token: lifetime %s is too short", ttl)
	}
	now := i.now()
	exp := now.Add(ttl).Truncate(time.Second)
	p := payload{
		Issuer:    i.issuer,
		Subject:   apiserverserviceaccount.MakeUsername(c.Namespace, c.ServiceAccount.Name),
		Audience:  audience(audiences),
		Expiry:    newNumericDate(exp),
		IssuedAt:  newNumericDate(now),
		NotBefore: newNumericDate(now),
		ID:        uuid.NewString(),
		Kubernetes: &kubernetesClaims{
			Namespace:      c.Namespace,
			ServiceAccount: c.ServiceAccount,
			Pod:            c.Pod,
			Node:           c.Node,
		},
	}
	body, err := json.Marshal(p)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue service-account token: encode claims: %w", err)
	}
	token, err := signJWS(i.key, i.alg, i.kid, body)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue service-account token: %w", err)
	}
	return token, exp, nil
}
