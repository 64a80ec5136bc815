package satoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// algorithm is a JWS signature algorithm (RFC 7518) for one kind of key.
type algorithm struct {
	name   string      // "ES256", "RS256", ...
	hash   crypto.Hash // digest signed
	ecSize int         // byte length of r and s for ECDSA; 0 for RSA
}

// algorithmFor picks the algorithm kube-apiserver uses for the key: RS256 for RSA, ES256/384/512 for ECDSA.
func algorithmFor(pub crypto.PublicKey) (algorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return algorithm{name: "RS256", hash: crypto.SHA256}, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return algorithm{name: "ES256", hash: crypto.SHA256, ecSize: 32}, nil
		case elliptic.P384():
			return algorithm{name: "ES384", hash: crypto.SHA384, ecSize: 48}, nil
		case elliptic.P521():
			return algorithm{name: "ES512", hash: crypto.SHA512, ecSize: 66}, nil
		}
		return algorithm{}, fmt.Errorf("unsupported ECDSA curve %s", k.Curve.Params().Name)
	}
	return algorithm{}, fmt.Errorf("unsupported signing key type %T (want RSA or ECDSA)", pub)
}

// keyID is kube-apiserver's key ID: the unpadded base64url SHA-256 of the PKIX public key.
func keyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("marshal public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// header is the JWS protected header.
type header struct {
	Algorithm string `json:"alg"`
	KeyID     string `json:"kid,omitempty"`
}

var b64 = base64.RawURLEncoding

// signJWS returns the compact serialization of payload signed with key.
func signJWS(key crypto.Signer, alg algorithm, kid string, payload []byte) (string, error) {
	hdr, err := json.Marshal(header{Algorithm: alg.name, KeyID: kid})
	if err != nil {
		return "", fmt.Errorf("encode JWS header: %w", err)
	}
	input := b64.EncodeToString(hdr) + "." + b64.EncodeToString(payload)
	h := alg.hash.New()
	h.Write([]byte(input))
	sig, err := key.Sign(rand.Reader, h.Sum(nil), alg.hash)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	if alg.ecSize > 0 {
		// crypto.Signer returns ASN.1 DER for ECDSA; JWS wants fixed-size r||s.
		var rs struct{ R, S *big.Int }
		rest, err := asn1.Unmarshal(sig, &rs)
		if err != nil {
			return "", fmt.Errorf("decode ECDSA signature: %w", err)
		}
		if len(rest) > 0 {
			return "", errors.New("decode ECDSA signature: trailing data")
		}
		raw := make([]byte, 2*alg.ecSize)
		rs.R.FillBytes(raw[:alg.ecSize])
		rs.S.FillBytes(raw[alg.ecSize:])
		sig = raw
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// jwsParts is a compact JWS split into its decoded pieces; the signature is not yet verified.
type jwsParts struct {
	header    header
	payload   []byte
	input     string // signing input: base64url(header) "." base64url(payload)
	signature []byte
}

// parseJWS decodes a compact JWS without verifying it; it fails for anything that is not one.
func parseJWS(token string) (*jwsParts, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	hdrJSON, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("decode JWS header: %w", err)
	}
	var p jwsParts
	if err := json.Unmarshal(hdrJSON, &p.header); err != nil {
		return nil, fmt.Errorf("parse JWS header: %w", err)
	}
	if p.payload, err = b64.DecodeString(parts[1]); err != nil {
		return nil, fmt.Errorf("decode JWS payload: %w", err)
	}
	if p.signature, err = b64.DecodeString(parts[2]); err != nil {
		return nil, fmt.Errorf("decode JWS signature: %w", err)
	}
	p.input = parts[0] + "." + parts[1]
	return &p, nil
}

// verify checks the signature with pub; only the key's own algorithm is accepted, so "none"
// and algorithm-confusion tokens fail.
func (p *jwsParts) verify(pub crypto.PublicKey, alg algorithm) error {
	if p.header.Algorithm != alg.name {
		return fmt.Errorf("unexpected signing algorithm %q, want %q", p.header.Algorithm, alg.name)
	}
	h := alg.hash.New()
	h.Write([]byte(p.input))
	digest := h.Sum(nil)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(k, alg.hash, digest, p.signature); err != nil {
			return errors.New("signature verification failed")
		}
		return nil
	case *ecdsa.PublicKey:
		if len(p.signature) != 2*alg.ecSize {
			return errors.New("signature has the wrong length")
		}
		r := new(big.Int).SetBytes(p.signature[:alg.ecSize])
		s := new(big.Int).SetBytes(p.signature[alg.ecSize:])
		if !ecdsa.Verify(k, digest, r, s) {
			return errors.New("signature verification failed")
		}
		return nil
	}
	return fmt.Errorf("unsupported verification key type %T", pub)
}
