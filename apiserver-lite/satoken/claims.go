package satoken

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Ref names an object a token is bound to, by name and UID.
type Ref struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// Claims is what a token says about its holder: the service account, and optionally the pod the
// token is bound to (and that pod's node, which only adds authentication.kubernetes.io/node-name
// and node-uid to the user's extra, as upstream does for pod-bound tokens).
type Claims struct {
	Namespace      string
	ServiceAccount Ref
	Pod            *Ref
	Node           *Ref
}

func (c Claims) validate() error {
	switch {
	case c.Namespace == "":
		return fmt.Errorf("claims: namespace is required")
	case c.ServiceAccount.Name == "" || c.ServiceAccount.UID == "":
		return fmt.Errorf("claims: service account name and UID are required")
	case c.Pod != nil && (c.Pod.Name == "" || c.Pod.UID == ""):
		return fmt.Errorf("claims: pod name and UID are required when the token is bound to a pod")
	case c.Node != nil && c.Pod == nil:
		return fmt.Errorf("claims: node-bound tokens without a pod are not supported")
	case c.Node != nil && c.Node.Name == "":
		return fmt.Errorf("claims: node name is required")
	}
	return nil
}

// kubernetesClaims is the "kubernetes.io" private claim of kube-apiserver's bound tokens.
type kubernetesClaims struct {
	Namespace      string `json:"namespace,omitempty"`
	ServiceAccount Ref    `json:"serviceaccount"`
	Pod            *Ref   `json:"pod,omitempty"`
	Node           *Ref   `json:"node,omitempty"`
}

// payload is the JWT claims set.
type payload struct {
	Audience   audience          `json:"aud,omitempty"`
	Expiry     numericDate       `json:"exp,omitempty"`
	IssuedAt   numericDate       `json:"iat,omitempty"`
	Issuer     string            `json:"iss,omitempty"`
	ID         string            `json:"jti,omitempty"`
	Kubernetes *kubernetesClaims `json:"kubernetes.io,omitempty"`
	NotBefore  numericDate       `json:"nbf,omitempty"`
	Subject    string            `json:"sub,omitempty"`
}

// audience is the "aud" claim: written as an array like kube-apiserver's tokens, read as an
// array or a single string (RFC 7519 allows both).
type audience []string

func (a *audience) UnmarshalJSON(data []byte) error {
	var one string
	if err := json.Unmarshal(data, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(data, &many); err != nil {
		return fmt.Errorf("aud: %w", err)
	}
	*a = many
	return nil
}

// numericDate is seconds since the epoch (RFC 7519); fractional values are accepted and truncated.
type numericDate int64

func newNumericDate(t time.Time) numericDate { return numericDate(t.Unix()) }

func (d numericDate) Time() time.Time { return time.Unix(int64(d), 0) }

func (d *numericDate) UnmarshalJSON(data []byte) error {
	var f float64
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("numeric date: %w", err)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > math.MaxInt64/2 {
		return fmt.Errorf("numeric date %v out of range", f)
	}
	*d = numericDate(int64(f))
	return nil
}
