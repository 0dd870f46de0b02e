package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// SecretPrefix starts every signing secret (Standard Webhooks "secret serialization").
const SecretPrefix = "whsec_"

// Secret sizes the Standard Webhooks spec allows for HMAC-SHA256 keys: at least 24 bytes, at most 64.
const (
	minSecretBytes = 24
	maxSecretBytes = 64
	newSecretBytes = 32
)

// ErrInvalidSecret means a signing secret is not "whsec_" followed by 24-64 bytes in standard base64.
var ErrInvalidSecret = errors.New("webhook: a signing secret is whsec_ followed by 24 to 64 bytes in standard base64")

// NewSecret returns a fresh random signing secret.
func NewSecret() string {
	b := make([]byte, newSecretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// CheckSecret reports whether s is a usable signing secret, wrapping ErrInvalidSecret when not. The
// error never repeats the secret.
func CheckSecret(s string) error {
	raw, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return ErrInvalidSecret
	}
	key, err := base64.StdEncoding.Strict().DecodeString(raw)
	if err != nil {
		return ErrInvalidSecret
	}
	defer clear(key)
	if len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return fmt.Errorf("%w (this one has %d bytes)", ErrInvalidSecret, len(key))
	}
	return nil
}

// Signer signs messages with one or more secrets; during a rotation each message carries one signature
// per active secret, space-separated, so receivers holding either secret can verify it.
type Signer struct {
	hooks []*standardwebhooks.Webhook
}

// NewSigner builds a signer for the given secrets, in the order their signatures are to appear.
func NewSigner(secrets ...string) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("webhook: a signer needs at least one secret")
	}
	s := &Signer{hooks: make([]*standardwebhooks.Webhook, 0, len(secrets))}
	for _, secret := range secrets {
		if err := CheckSecret(secret); err != nil {
			return nil, err
		}
		h, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			return nil, ErrInvalidSecret // the library's error may quote the secret
		}
		s.hooks = append(s.hooks, h)
	}
	return s, nil
}

// Sign returns the webhook-signature header value for msgID, the attempt time at (whole seconds, as sent
// in webhook-timestamp) and the exact body: "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per secret.
func (s *Signer) Sign(msgID string, at time.Time, body []byte) (string, error) {
	if strings.ContainsAny(msgID, ". ") {
		// The id is part of the signed "id.timestamp.body" string: a dot would make it ambiguous.
		return "", fmt.Errorf("webhook: message id %q must not contain '.' or spaces", msgID)
	}
	sigs := make([]string, len(s.hooks))
	for i, h := range s.hooks {
		sig, err := h.Sign(msgID, at, body)
		if err != nil {
			return "", fmt.Errorf("webhook: sign: %w", err)
		}
		sigs[i] = sig
	}
	return strings.Join(sigs, " "), nil
}
