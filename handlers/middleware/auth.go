package middleware

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hitchdev/hitch/internal/auth"
	"github.com/hitchdev/hitch/internal/fault"
)

const principalKey = "hitch.principal"

// TenantRecorder remembers tenants as their tokens are first seen.
type TenantRecorder interface {
	UpsertTenant(ctx context.Context, key, name string, now time.Time) error
}

// Authenticator verifies bearer tokens and records the tenants they name.
type Authenticator struct {
	Issuer  *auth.Issuer
	Tenants TenantRecorder
	Now     func() time.Time
	Log     *slog.Logger

	mu   sync.Mutex
	seen map[string]string // tenant key -> name already stored
}

// Require is middleware that lets through only requests with a valid tenant
// or admin token.
func (a *Authenticator) Require(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := a.verify(c.Request().Header.Get(echo.HeaderAuthorization))
		if err != nil {
			return err
		}
		if p.TenantKey != "" {
			if err := a.remember(c.Request().Context(), p); err != nil {
				return err
			}
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

// Principal returns the caller authenticated by Require.
func Principal(c echo.Context) auth.Principal {
	p, _ := c.Get(principalKey).(auth.Principal)
	return p
}

func (a *Authenticator) verify(header string) (auth.Principal, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if header == "" {
		return auth.Principal{}, fault.New(fault.Unauthorized, "unauthorized", "Send a tenant or admin token as 'Authorization: Bearer <token>'.")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return auth.Principal{}, fault.New(fault.Unauthorized, "unauthorized", "The Authorization header must be 'Bearer <token>'.")
	}
	p, err := a.Issuer.Verify(strings.TrimSpace(token))
	if err == nil {
		return p, nil
	}
	code, msg := "invalid_token", "The token is not valid."
	switch {
	case errors.Is(err, auth.ErrExpired):
		code, msg = "token_expired", "The token has expired; mint a new one."
	case errors.Is(err, auth.ErrNotYetValid):
		code, msg = "token_not_yet_valid", "The token is not valid yet (nbf is in the future)."
	case errors.Is(err, auth.ErrSignature):
		msg = "The token's signature does not verify with this workspace's secret."
	case errors.Is(err, auth.ErrClaims):
		msg = "The token's claims are not acceptable: " + err.Error()
	case errors.Is(err, auth.ErrMalformed):
		msg = "The token is not a well-formed JWT."
	}
	return auth.Principal{}, &fault.Error{Kind: fault.Unauthorized, Code: code, Message: msg, Err: err}
}

// remember stores the tenant the first time this process sees it (or sees a
// new name), keeping token verification free of writes after that.
func (a *Authenticator) remember(ctx context.Context, p auth.Principal) error {
	a.mu.Lock()
	name, ok := a.seen[p.TenantKey]
	a.mu.Unlock()
	if ok && (p.TenantName == "" || p.TenantName == name) {
		return nil
	}
	if err := a.Tenants.UpsertTenant(ctx, p.TenantKey, p.TenantName, a.Now()); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen == nil || len(a.seen) > 100_000 {
		a.seen = make(map[string]string)
	}
	if p.TenantName != "" || !ok {
		a.seen[p.TenantKey] = p.TenantName
	}
	return nil
}
