package secrets

import (
	"crypto/rand"
	"encoding/base64"
)

// NewToken returns 256 random bits, base64url without padding (43 characters): for one-time link codes,
// OAuth state, browser ids and CSRF tokens. crypto/rand.Read never fails since Go 1.24.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
