// Package connect holds the rules of connections and their connect sessions:
// creating a connection from submitted credentials, archiving, and (with the
// popup) starting and completing sessions. It knows nothing of HTTP.
package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hitchdev/hitch/internal/appsettings"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/events"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/oauth"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
)

// Limits on what a caller may submit.
const (
	MaxNameLen = 255
)

// Service applies the connection rules over the store.
type Service struct {
	Store   *store.Store
	Catalog *catalog.Catalog
	Apps    *appsettings.Service // console settings: enabled apps and stored OAuth clients; nil: the catalog alone
	Keys    *secrets.KeyRing
	OAuth   *oauth.Client
	Tester  *Tester
	Resolve func(string) string // makes catalog paths absolute (sandbox apps); nil: identity
	Now     func() time.Time
	Log     *slog.Logger
}

// Credentials is what a connection holds, sealed at rest under the key ring
// with the connection id as associated data.
type Credentials struct {
	Type         string            `json:"type"`
	Fields       map[string]string `json:"fields,omitempty"`
	AccessToken  string            `json:"accessToken,omitempty"`
	RefreshToken string            `json:"refreshToken,omitempty"`
	TokenType    string            `json:"tokenType,omitempty"`
	Expiry       *time.Time        `json:"expiry,omitempty"`
	Scopes       []string          `json:"scopes,omitempty"`
}

// CreateInput asks for a connection made at once from submitted credentials.
type CreateInput struct {
	TenantKey   string
	TenantName  string
	AppKey      string
	Name        string
	Credentials map[string]string
}

// Create validates credentials against the app's catalog form and writes the
// connection with its connection.created event in one transaction.
func (s *Service) Create(ctx context.Context, in CreateInput) (store.Connection, error) {
	app, err := s.App(ctx, in.AppKey)
	if err != nil {
		return store.Connection{}, err
	}
	if app.Auth.Type != "apiKey" && app.Auth.Type != "basic" {
		return store.Connection{}, fault.New(fault.Invalid, "credentials_not_accepted",
			"App %q uses OAuth; start a connect session (POST /connect without credentials) instead.", app.Key)
	}
	name, err := connectionName(in.Name, app)
	if err != nil {
		return store.Connection{}, err
	}
	fields, input, err := CheckFields(app, in.Credentials)
	if err != nil {
		return store.Connection{}, err
	}
	if err := s.Tester.Test(ctx, app, fields); err != nil {
		if tf, ok := AsTestFailure(err); ok {
			return store.Connection{}, &fault.Error{Kind: fault.Invalid, Code: "invalid_credentials",
				Message: app.Name + " did not accept these credentials: " + tf.Message, Err: err}
		}
		return store.Connection{}, err
	}
	now := s.Now().UTC()
	c := store.Connection{
		ID:        store.NewID("con"),
		TenantKey: in.TenantKey,
		AppKey:    app.Key,
		Name:      name,
		AuthType:  app.Auth.Type,
		Input:     input,
		CreatedAt: now,
		UpdatedAt: now,
	}
	sealed, err := s.Keys.SealJSON(Credentials{Type: app.Auth.Type, Fields: fields}, []byte(c.ID))
	if err != nil {
		return store.Connection{}, fmt.Errorf("connect: seal credentials: %w", err)
	}
	c.Credentials, c.KeyID = sealed, s.Keys.CurrentID()
	err = s.Store.InTx(ctx, func(q *store.Queries) error {
		if err := q.UpsertTenant(ctx, in.TenantKey, in.TenantName, now); err != nil {
			return err
		}
		if err := q.InsertConnection(ctx, &c); err != nil {
			return err
		}
		_, err := events.Record(ctx, q, events.ConnectionCreated, c.TenantKey, c.ID, View(c), now)
		return err
	})
	if err != nil {
		return store.Connection{}, fmt.Errorf("connect: create connection: %w", err)
	}
	s.Log.InfoContext(ctx, "connection created", "connection", c.ID, "tenant", c.TenantKey, "app", c.AppKey)
	return c, nil
}

// Archive revokes a connection's grant at the provider when the app has a
// revocation endpoint (RFC 7009), then marks it archived, erases its
// credentials and records connection.deleted; archiving an archived
// connection changes nothing. A failed revocation is logged and does not
// stop the archiving. tenantKey "" means any tenant (admin).
func (s *Service) Archive(ctx context.Context, tenantKey, id string) (store.Connection, error) {
	s.revoke(ctx, tenantKey, id)
	var out store.Connection
	err := s.Store.InTx(ctx, func(q *store.Queries) error {
		now := s.Now().UTC()
		c, changed, err := q.ArchiveConnection(ctx, id, tenantKey, now)
		if err != nil {
			return err
		}
		out = c
		if !changed {
			return nil
		}
		_, err = events.Record(ctx, q, events.ConnectionDeleted, c.TenantKey, c.ID, View(c), now)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Connection{}, notFound(id)
	}
	if err != nil {
		return store.Connection{}, fmt.Errorf("connect: archive: %w", err)
	}
	return out, nil
}

// revoke asks the provider to revoke an OAuth connection's tokens before
// they are erased: the refresh token, which ends the whole grant, else the
// access token. It only logs failures: archiving must not depend on the
// provider being up.
func (s *Service) revoke(ctx context.Context, tenantKey, id string) {
	c, err := s.Store.GetConnection(ctx, id, tenantKey)
	if err != nil || c.ArchivedAt != nil || c.AuthType != catalog.AuthOAuth2 || len(c.Credentials) == 0 || s.OAuth == nil {
		return
	}
	app, _, err := s.Lookup(ctx, c.AppKey)
	if err != nil || app.Auth.RevokeURL == "" {
		return
	}
	var creds Credentials
	if err := s.Keys.OpenJSON(c.Credentials, []byte(c.ID), &creds); err != nil {
		s.Log.WarnContext(ctx, "credentials not revoked: they cannot be opened", "connection", c.ID, "error", err)
		return
	}
	token, hint := creds.RefreshToken, "refresh_token"
	if token == "" {
		token, hint = creds.AccessToken, "access_token"
	}
	// Not cut short by a caller hanging up: the erase that follows would leave a live grant behind.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.OAuth.Revoke(rctx, s.provider(app, creds.Fields), token, hint); err != nil {
		s.Log.WarnContext(ctx, "revocation at the provider failed; archiving anyway", "connection", c.ID, "app", c.AppKey, "error", err)
		return
	}
	s.Log.InfoContext(ctx, "credentials revoked at the provider", "connection", c.ID, "app", c.AppKey, "token", hint)
}

// Get returns one connection of tenantKey ("" for any tenant).
func (s *Service) Get(ctx context.Context, tenantKey, id string) (store.Connection, error) {
	c, err := s.Store.GetConnection(ctx, id, tenantKey)
	if errors.Is(err, store.ErrNotFound) {
		return store.Connection{}, notFound(id)
	}
	return c, err
}

func notFound(id string) error {
	return fault.New(fault.NotFound, "connection_not_found", "No connection with id %q exists.", id)
}

// connectionName is the submitted name checked, or the app's name when none was given.
func connectionName(name string, app *catalog.App) (string, error) {
	name, err := checkName(name)
	if name == "" && err == nil {
		name = app.Name
	}
	return name, err
}

// checkName trims a submitted connection name and refuses one that is too long or not printable.
func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > MaxNameLen || !printable(name) {
		return "", fault.New(fault.Invalid, "invalid_name", "The name must be 1-%d printable characters.", MaxNameLen)
	}
	return name, nil
}

// CheckFields validates submitted values against an app's form: every
// required field present (defaults filled), each value matching its
// pattern, no unknown fields. It returns all values and the non-secret ones
// (the public input). Messages name fields, never values.
func CheckFields(app *catalog.App, submitted map[string]string) (all, public map[string]string, err error) {
	for k := range submitted {
		if _, ok := app.Field(k); !ok {
			return nil, nil, fault.New(fault.Invalid, "unknown_field", "App %q has no field %q.", app.Key, k)
		}
	}
	all, err = app.ValidateInput(submitted)
	if err != nil {
		return nil, nil, fieldFault(app, err)
	}
	return all, app.PublicInput(all), nil
}

// fieldFault turns a catalog field error into the API's message.
func fieldFault(app *catalog.App, err error) error {
	var fe *catalog.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	label := fe.Field
	if f, ok := app.Field(fe.Field); ok && f.Label != "" {
		label = f.Label
	}
	code := "invalid_field"
	if fe.Reason == "is required" {
		code = "missing_field"
	}
	return &fault.Error{Kind: fault.Invalid, Code: code, Message: fmt.Sprintf("The field %q (%s) %s.", fe.Field, label, fe.Reason), Err: err}
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
