// Package auth mints and verifies the tenant and admin JWTs that the host
// backend signs with the workspace secret.
package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// MaxTTL is the longest lifetime a token may have.
	MaxTTL = 24 * time.Hour
	// MaxTokenLen caps the token size accepted before any parsing.
	MaxTokenLen = 8 << 10
	// MinSecretLen is the shortest workspace secret accepted (256 bits).
	MinSecretLen = 32
	// MaxTenantKeyLen is the longest tenantKey, in characters.
	MaxTenantKeyLen = 255

	leeway = 60 * time.Second
)

// Claim names, fixed by the product contract.
const (
	claimWorkspaceKey = "workspaceKey"
	claimTenantKey    = "tenantKey"
	claimName         = "name"
	claimIsAdmin      = "isAdmin"
	claimLegacyIss    = "iss"
	claimLegacyID     = "id"
)

// Verification errors. Each is wrapped with a short detail; none carries token material.
var (
	ErrMalformed   = errors.New("the token is not a well-formed JWT")
	ErrSignature   = errors.New("the token signature is invalid or uses an algorithm that is not accepted")
	ErrExpired     = errors.New("the token has expired")
	ErrNotYetValid = errors.New("the token is not valid yet")
	ErrClaims      = errors.New("the token claims are missing, invalid or of the wrong type")
	errCritHeader  = errors.New("critical header extensions are not supported")
)

// acceptedMethods are the only algorithms verified, whatever the header asks for.
func acceptedMethods() []string {
	return []string{jwt.SigningMethodHS256.Alg(), jwt.SigningMethodHS512.Alg()}
}

// Principal is who a verified token speaks for.
type Principal struct {
	WorkspaceKey string
	// TenantKey is empty only for admin tokens that name no tenant.
	TenantKey  string
	TenantName string
	Admin      bool
	ExpiresAt  time.Time
}

// Issuer mints and verifies tokens for one workspace. It is safe for concurrent use.
type Issuer struct {
	workspaceKey string
	secret       []byte
	now          func() time.Time
	parser       *jwt.Parser

	// accepted remembers tokens that verified, so a client presenting the same token on every request
	// pays for parsing and the MAC once. Everything Verify checks is fixed by the token's bytes except
	// the clock, so a hit re-checks exactly the time rules (exp, nbf, at most 24 h ahead).
	mu       sync.RWMutex
	accepted map[string]acceptedToken
}

// acceptedToken is a verified token's principal and validity window.
type acceptedToken struct {
	p   Principal
	nbf time.Time // zero when the token has no nbf
}

// maxAccepted bounds Issuer.accepted; when full it starts over.
const maxAccepted = 4096

// NewIssuer returns an Issuer for workspaceKey signing with secret, which must
// be at least 32 bytes. now may be nil for time.Now.
func NewIssuer(workspaceKey string, secret []byte, now func() time.Time) (*Issuer, error) {
	if workspaceKey == "" {
		return nil, errors.New("auth: workspace key is empty")
	}
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("auth: workspace secret must be at least %d bytes, got %d", MinSecretLen, len(secret))
	}
	if now == nil {
		now = time.Now
	}
	return &Issuer{
		workspaceKey: workspaceKey,
		secret:       slices.Clone(secret),
		now:          now,
		accepted:     map[string]acceptedToken{},
		parser: jwt.NewParser(
			jwt.WithValidMethods(acceptedMethods()),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(leeway),
			jwt.WithTimeFunc(now),
			jwt.WithStrictDecoding(),
		),
	}, nil
}

// Mint signs a token for p with HS256, valid for ttl (0 < ttl <= 24h).
// p.WorkspaceKey may be empty; if set it must be the issuer's. p.ExpiresAt is ignored.
func (i *Issuer) Mint(p Principal, ttl time.Duration) (string, error) {
	if ttl <= 0 || ttl > MaxTTL {
		return "", fmt.Errorf("auth: token lifetime must be more than 0 and at most %s", MaxTTL)
	}
	if p.WorkspaceKey != "" && p.WorkspaceKey != i.workspaceKey {
		return "", fmt.Errorf("%w: workspaceKey is not this workspace's", ErrClaims)
	}
	if p.TenantKey == "" && !p.Admin {
		return "", fmt.Errorf("%w: tenantKey is required for tenant tokens", ErrClaims)
	}
	if p.TenantKey != "" {
		if err := checkTenantKey(p.TenantKey); err != nil {
			return "", err
		}
	}
	now := i.now()
	claims := jwt.MapClaims{
		claimWorkspaceKey: i.workspaceKey,
		"iat":             jwt.NewNumericDate(now),
		"exp":             jwt.NewNumericDate(now.Add(ttl)),
	}
	if p.TenantKey != "" {
		claims[claimTenantKey] = p.TenantKey
	}
	if p.TenantName != "" {
		claims[claimName] = p.TenantName
	}
	if p.Admin {
		claims[claimIsAdmin] = true
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(i.secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return signed, nil
}

// Verify checks token strictly (RFC 7519, RFC 8725): HS256 or HS512 under the
// workspace secret, exp required and at most 24 h ahead, nbf honoured, the
// workspace's key, and claims of the right JSON types. Errors wrap ErrMalformed,
// ErrSignature, ErrExpired, ErrNotYetValid or ErrClaims.
func (i *Issuer) Verify(token string) (Principal, error) {
	if token == "" {
		return Principal{}, fmt.Errorf("%w: the token is empty", ErrMalformed)
	}
	if len(token) > MaxTokenLen {
		return Principal{}, fmt.Errorf("%w: the token is longer than %d bytes", ErrMalformed, MaxTokenLen)
	}
	if p, ok := i.recall(token); ok {
		return p, nil
	}
	claims := jwt.MapClaims{}
	parsed, err := i.parser.ParseWithClaims(token, claims, i.key)
	if err != nil {
		return Principal{}, classify(parsed, err)
	}
	p, err := i.principal(claims)
	if err != nil {
		return Principal{}, err
	}
	var nbf time.Time
	if t, _ := claims.GetNotBefore(); t != nil {
		nbf = t.Time
	}
	i.mu.Lock()
	if len(i.accepted) >= maxAccepted {
		clear(i.accepted)
	}
	i.accepted[token] = acceptedToken{p: p, nbf: nbf}
	i.mu.Unlock()
	return p, nil
}

// recall returns the principal of a token that verified before and whose time rules still hold now, the
// same rules and leeway the full verification applies. Anything else goes through the full path, which
// then reports the precise error.
func (i *Issuer) recall(token string) (Principal, bool) {
	i.mu.RLock()
	a, ok := i.accepted[token]
	i.mu.RUnlock()
	if !ok {
		return Principal{}, false
	}
	now := i.now()
	exp := a.p.ExpiresAt
	if !now.Before(exp.Add(leeway)) || !a.nbf.IsZero() && now.Before(a.nbf.Add(-leeway)) || exp.Sub(now) > MaxTTL+leeway {
		return Principal{}, false
	}
	return a.p, true
}

// key hands the secret to the parser. The parser has already enforced the
// accepted algorithms; checking again here keeps that guarantee local.
func (i *Issuer) key(t *jwt.Token) (any, error) {
	if alg := t.Method.Alg(); alg != jwt.SigningMethodHS256.Alg() && alg != jwt.SigningMethodHS512.Alg() {
		return nil, jwt.ErrTokenSignatureInvalid
	}
	// RFC 7515 section 4.1.11: extensions listed in crit must be understood; we understand none.
	if _, ok := t.Header["crit"]; ok {
		return nil, errCritHeader
	}
	return i.secret, nil
}

// classify maps the library's error to one sentinel. The library's text is
// dropped because it can quote fragments of the token.
func classify(t *jwt.Token, err error) error {
	switch {
	case errors.Is(err, errCritHeader):
		return fmt.Errorf("%w: %v", ErrMalformed, errCritHeader)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fmt.Errorf("%w: it must be three base64url segments holding a JSON header and a JSON object of claims", ErrMalformed)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		if t != nil {
			if _, ok := t.Header["alg"].(string); !ok {
				return fmt.Errorf("%w: the header names no signing algorithm", ErrMalformed)
			}
		}
		return fmt.Errorf("%w: only HS256 and HS512 are accepted", ErrSignature)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return fmt.Errorf("%w: it must be signed with the workspace secret using HS256 or HS512", ErrSignature)
	case errors.Is(err, jwt.ErrInvalidType):
		return fmt.Errorf("%w: exp, nbf and iat must be numbers", ErrClaims)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return fmt.Errorf("%w: exp is required", ErrClaims)
	case errors.Is(err, jwt.ErrTokenExpired):
		return fmt.Errorf("%w: mint a new one", ErrExpired)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return fmt.Errorf("%w: its nbf is in the future", ErrNotYetValid)
	default:
		return fmt.Errorf("%w: the token was rejected", ErrClaims)
	}
}

// principal checks the claims the library does not know about. The signature
// and exp/nbf have already been verified.
func (i *Issuer) principal(c jwt.MapClaims) (Principal, error) {
	exp, err := c.GetExpirationTime()
	if err != nil || exp == nil {
		return Principal{}, fmt.Errorf("%w: exp is required and must be a number", ErrClaims)
	}
	if exp.Sub(i.now()) > MaxTTL+leeway {
		return Principal{}, fmt.Errorf("%w: exp is more than 24 hours ahead", ErrClaims)
	}
	if _, err := c.GetIssuedAt(); err != nil {
		return Principal{}, fmt.Errorf("%w: iat must be a number", ErrClaims)
	}
	if _, err := c.GetSubject(); err != nil {
		return Principal{}, fmt.Errorf("%w: sub must be a string", ErrClaims)
	}
	iss, err := c.GetIssuer()
	if err != nil {
		return Principal{}, fmt.Errorf("%w: iss must be a string", ErrClaims)
	}
	// RFC 7519 section 4.1.3: a token carrying aud must name us, and we are the workspace.
	aud, err := audience(c)
	if err != nil {
		return Principal{}, err
	}
	if aud != nil && !slices.Contains(aud, i.workspaceKey) {
		return Principal{}, fmt.Errorf("%w: aud does not name this workspace", ErrClaims)
	}

	ws, present, ok := stringClaim(c, claimWorkspaceKey)
	if !ok {
		return Principal{}, fmt.Errorf("%w: workspaceKey must be a string", ErrClaims)
	}
	if !present {
		ws = iss
	}
	if ws == "" {
		return Principal{}, fmt.Errorf("%w: workspaceKey is required", ErrClaims)
	}
	if ws != i.workspaceKey {
		return Principal{}, fmt.Errorf("%w: the token is for a different workspace", ErrClaims)
	}

	admin := false
	if v, present := c[claimIsAdmin]; present {
		if admin, ok = v.(bool); !ok {
			return Principal{}, fmt.Errorf("%w: isAdmin must be true or false", ErrClaims)
		}
	}

	tenant, present, ok := stringClaim(c, claimTenantKey)
	if !ok {
		return Principal{}, fmt.Errorf("%w: tenantKey must be a string", ErrClaims)
	}
	if !present {
		if tenant, present, ok = stringClaim(c, claimLegacyID); !ok {
			return Principal{}, fmt.Errorf("%w: id must be a string", ErrClaims)
		}
	}
	if !present && !admin {
		return Principal{}, fmt.Errorf("%w: tenantKey is required", ErrClaims)
	}
	if present {
		if err := checkTenantKey(tenant); err != nil {
			return Principal{}, err
		}
	}

	name, _, ok := stringClaim(c, claimName)
	if !ok {
		return Principal{}, fmt.Errorf("%w: name must be a string", ErrClaims)
	}

	return Principal{
		WorkspaceKey: ws,
		TenantKey:    tenant,
		TenantName:   name,
		Admin:        admin,
		ExpiresAt:    exp.Time,
	}, nil
}

// audience reads aud, a string or an array of strings. The library's own
// reader lets other types through as "no audience".
func audience(c jwt.MapClaims) ([]string, error) {
	v, present := c["aud"]
	if !present {
		return nil, nil
	}
	bad := fmt.Errorf("%w: aud must be a string or an array of strings", ErrClaims)
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, bad
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, bad
	}
}

// stringClaim reports the claim's value, whether it is present, and whether
// it is a string (an absent claim counts as one).
func stringClaim(c jwt.MapClaims, name string) (value string, present, ok bool) {
	v, present := c[name]
	if !present {
		return "", false, true
	}
	s, ok := v.(string)
	return s, true, ok
}

// checkTenantKey enforces 1-255 characters, taken as given (no trimming), none
// of them control characters.
func checkTenantKey(k string) error {
	if k == "" {
		return fmt.Errorf("%w: tenantKey must not be empty", ErrClaims)
	}
	if !utf8.ValidString(k) {
		return fmt.Errorf("%w: tenantKey must be valid UTF-8", ErrClaims)
	}
	if utf8.RuneCountInString(k) > MaxTenantKeyLen {
		return fmt.Errorf("%w: tenantKey is longer than %d characters", ErrClaims, MaxTenantKeyLen)
	}
	for _, r := range k {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: tenantKey contains a control character", ErrClaims)
		}
	}
	return nil
}

// String describes the issuer without its secret.
func (i *Issuer) String() string {
	return fmt.Sprintf("auth.Issuer(workspace=%s)", i.workspaceKey)
}

// GoString keeps %#v from printing the secret.
func (i *Issuer) GoString() string { return i.String() }

// LogValue keeps slog from printing the secret.
func (i *Issuer) LogValue() slog.Value { return slog.StringValue(i.String()) }
