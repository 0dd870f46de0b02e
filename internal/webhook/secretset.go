package webhook

import (
	"fmt"
	"time"

	"github.com/hitchdev/hitch/internal/secrets"
)

// secretEntry is one signing secret as sealed in webhook_endpoints.secrets. Times are unix microseconds;
// ExpiresAt 0 means the secret has no end (the current one).
type secretEntry struct {
	Secret    string `json:"secret"`
	CreatedAt int64  `json:"createdAt"`
	ExpiresAt int64  `json:"expiresAt,omitempty"`
}

// secretSet is an endpoint's secrets, newest first.
type secretSet []secretEntry

// active returns the secrets still valid at now, newest first.
func (s secretSet) active(now time.Time) []string {
	out := make([]string, 0, len(s))
	for _, e := range s {
		if e.ExpiresAt == 0 || e.ExpiresAt > now.UnixMicro() {
			out = append(out, e.Secret)
		}
	}
	return out
}

// rotated puts secret first and lets the current secrets live on until now+grace (never longer than they
// already would), dropping those that have expired.
func (s secretSet) rotated(secret string, now time.Time, grace time.Duration) secretSet {
	out := secretSet{{Secret: secret, CreatedAt: now.UnixMicro()}}
	until := now.Add(grace).UnixMicro()
	for _, e := range s {
		if (e.ExpiresAt != 0 && e.ExpiresAt <= now.UnixMicro()) || e.Secret == secret || grace <= 0 {
			continue
		}
		if e.ExpiresAt == 0 || e.ExpiresAt > until {
			e.ExpiresAt = until
		}
		out = append(out, e)
	}
	return out
}

// aad binds sealed secrets to their endpoint row, so they cannot be moved to another. It is the row id,
// as for every sealed column, so key rotation (internal/refresh/rekey) re-seals them like the others.
func aad(endpointID string) []byte { return []byte(endpointID) }

func sealSecrets(keys *secrets.KeyRing, endpointID string, s secretSet) ([]byte, string, error) {
	sealed, err := keys.SealJSON(s, aad(endpointID))
	if err != nil {
		return nil, "", fmt.Errorf("webhook: seal secrets of %s: %w", endpointID, err)
	}
	return sealed, keys.CurrentID(), nil
}

func openSecrets(keys *secrets.KeyRing, endpointID string, sealed []byte) (secretSet, error) {
	var s secretSet
	if err := keys.OpenJSON(sealed, aad(endpointID), &s); err != nil {
		return nil, fmt.Errorf("webhook: open secrets of %s: %w", endpointID, err)
	}
	return s, nil
}
