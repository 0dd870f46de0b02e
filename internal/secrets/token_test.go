package secrets_test

import (
	"regexp"
	"testing"

	"github.com/hitchdev/hitch/internal/secrets"
)

func TestNewToken(t *testing.T) {
	shape := regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`) // 32 bytes, base64url, no padding
	seen := map[string]bool{}
	for range 100 {
		tok := secrets.NewToken()
		if !shape.MatchString(tok) || seen[tok] {
			t.Fatalf("NewToken() = %q: wrong shape or repeated", tok)
		}
		seen[tok] = true
	}
}
