package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hitchdev/hitch/handlers/middleware"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/refresh"
)

// getCredentials serves GET /connections/{id}/credentials (admin only): the
// connection's usable credentials, refreshed first when due, through the
// same per-connection lease as the background worker.
func (h *Handler) getCredentials(c echo.Context) error {
	if !middleware.Principal(c).Admin {
		return fault.New(fault.Forbidden, "admin_required", "Credentials are returned to admin tokens only.")
	}
	creds, err := h.refresher().Credentials(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, credentialsView(creds))
}

// refresher builds the on-demand refresher over the connect service's
// dependencies, so both agree on the store, keys, catalog and OAuth client.
// It is a plain value holding no goroutines, cheap to make per request.
func (h *Handler) refresher() *refresh.Service {
	s := h.Connect
	return refresh.New(refresh.Options{Store: s.Store, Catalog: s.Catalog, Apps: s.Apps, Keys: s.Keys, OAuth: s.OAuth, Now: s.Now, Log: s.Log})
}

// credentialsView is the response body: {type, accessToken, expiresAt,
// scopes} for OAuth, {type, ...fields} for API-key and basic connections.
func credentialsView(c refresh.Credentials) map[string]any {
	if c.Type != catalog.AuthOAuth2 {
		out := make(map[string]any, len(c.Fields)+1)
		for k, v := range c.Fields {
			out[k] = v
		}
		out["type"] = c.Type
		return out
	}
	var expires any
	if c.ExpiresAt != nil {
		expires = c.ExpiresAt.UTC().Format(time.RFC3339)
	}
	scopes := c.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return map[string]any{"type": c.Type, "accessToken": c.AccessToken, "expiresAt": expires, "scopes": scopes}
}
