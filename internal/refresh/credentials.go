package refresh

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/store"
)

// Credentials are a connection's usable credentials: an OAuth access token, or the fields of an API-key
// or basic connection.
type Credentials struct {
	Type        string            // catalog.AuthOAuth2, AuthAPIKey or AuthBasic
	AccessToken string            // oauth2
	ExpiresAt   *time.Time        // oauth2; nil when the provider gave no lifetime
	Scopes      []string          // oauth2, as granted
	Fields      map[string]string // apiKey and basic: every field, secret ones included
}

// Credentials returns connection id's current credentials, refreshing an OAuth token first when its
// refresh is due or it has expired. The refresh runs under the connection's lease: when another process
// holds it, the call waits for that refresh to finish and answers with its result, never starting a
// second one. Errors are faults: connection_not_found, connection_archived (gone),
// connection_disconnected and credentials_expired (conflict), credentials_unavailable (a transient
// refresh failure left no valid token yet).
func (s *Service) Credentials(ctx context.Context, id string) (Credentials, error) {
	waited := false
	for {
		c, creds, err := s.load(ctx, id)
		if err != nil {
			return Credentials{}, err
		}
		if c.AuthType != catalog.AuthOAuth2 {
			return Credentials{Type: c.AuthType, Fields: creds.Fields}, nil
		}
		now := s.now()
		if !wantsRefresh(c, creds, now) {
			return usable(c, creds, now)
		}
		if c.LeaseOwner != "" && c.LeaseUntil != nil && now.Before(*c.LeaseUntil) {
			waited = true
			if err := s.pause(ctx); err != nil {
				return Credentials{}, err
			}
			continue
		}
		if waited && c.LeaseOwner == "" {
			// The refresh we waited for is over and released its lease: its outcome is the answer, a
			// working token or the failure it recorded. Only a holder that let go without trying (it
			// found the token fresh a moment ago) leaves the refresh to this call. A lease still named
			// but expired means its holder died; then this call takes over too.
			cr, err := usable(c, creds, now)
			if err == nil || c.RetryAttempts > 0 || c.Disconnected {
				return cr, err
			}
		}
		owner := newOwner("req")
		claimed, ok, err := s.store.ClaimConnection(ctx, id, owner, now, now.Add(s.lease))
		if err != nil {
			return Credentials{}, fmt.Errorf("refresh: claim %s: %w", id, err)
		}
		if !ok {
			continue // another process got there first; the next look waits for it
		}
		// Decide again on the row as leased, and at the time it was leased: it may have been refreshed
		// since it was read, and the claim may have waited for a lock.
		now = s.now()
		_, leasedCreds, f := s.prepare(ctx, claimed)
		if f == nil && !wantsRefresh(claimed, leasedCreds, now) {
			if _, err := s.store.ReleaseLease(context.WithoutCancel(ctx), id, owner); err != nil {
				return Credentials{}, fmt.Errorf("refresh: release %s: %w", id, err)
			}
			return usable(claimed, leasedCreds, now)
		}
		out, outCreds, err := s.refreshLeased(ctx, claimed, owner)
		if errors.Is(err, store.ErrLeaseLost) {
			waited = true // archived or reconnected meanwhile: read what is there now
			continue
		}
		if err != nil {
			return Credentials{}, err
		}
		return usable(out, outCreds, s.now())
	}
}

// load reads an unarchived connection and opens its credentials.
func (s *Service) load(ctx context.Context, id string) (store.Connection, connect.Credentials, error) {
	var creds connect.Credentials
	c, err := s.store.GetConnection(ctx, id, "")
	if errors.Is(err, store.ErrNotFound) {
		return c, creds, fault.New(fault.NotFound, "connection_not_found", "No connection with id %q exists.", id)
	}
	if err != nil {
		return c, creds, fmt.Errorf("refresh: load %s: %w", id, err)
	}
	if c.ArchivedAt != nil {
		return c, creds, fault.New(fault.Gone, "connection_archived", "Connection %q is archived; its credentials were erased.", id)
	}
	if err := s.keys.OpenJSON(c.Credentials, []byte(c.ID), &creds); err != nil {
		return c, creds, fmt.Errorf("refresh: open credentials of %s: %w", id, err)
	}
	return c, creds, nil
}

// wantsRefresh says whether a credentials call should refresh before answering: the scheduled refresh
// (ahead of expiry) is due, or the token has expired and no failure is backing off.
func wantsRefresh(c store.Connection, creds connect.Credentials, now time.Time) bool {
	if creds.RefreshToken == "" || creds.Expiry == nil {
		return false
	}
	due := c.NextRefreshAt != nil && !now.Before(*c.NextRefreshAt)
	if c.RetryAttempts > 0 {
		return due // backing off: callers do not hammer a failing provider
	}
	return due || !now.Before(*creds.Expiry)
}

// usable answers with the connection's token if it can be used.
func usable(c store.Connection, creds connect.Credentials, now time.Time) (Credentials, error) {
	if c.Disconnected {
		reason := ""
		if c.ErrorCode != "" {
			reason = " (" + c.ErrorCode + ")"
		}
		return Credentials{}, fault.New(fault.Conflict, "connection_disconnected",
			"Connection %q is disconnected%s; reconnect it to get working credentials.", c.ID, reason)
	}
	if creds.Expiry != nil && !now.Before(*creds.Expiry) {
		if creds.RefreshToken == "" {
			return Credentials{}, fault.New(fault.Conflict, "credentials_expired",
				"The access token of connection %q has expired and the provider gave no refresh token; reconnect it.", c.ID)
		}
		retry := ""
		if c.NextRefreshAt != nil {
			retry = " Hitch tries again at " + c.NextRefreshAt.UTC().Format(time.RFC3339) + "."
		}
		return Credentials{}, fault.New(fault.Unavailable, "credentials_unavailable",
			"The access token of connection %q has expired and the last refresh failed.%s", c.ID, retry)
	}
	return Credentials{Type: catalog.AuthOAuth2, AccessToken: creds.AccessToken, ExpiresAt: creds.Expiry, Scopes: creds.Scopes}, nil
}

// pause waits a jittered WaitPoll before looking at a leased connection again.
func (s *Service) pause(ctx context.Context) error {
	d := s.waitPoll/2 + time.Duration(s.int63n(int64(s.waitPoll)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("refresh: waiting for another refresh: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}
