// Package api serves the JSON HTTP API of spec section 3. Handlers parse and
// render; the rules live in internal/connect and internal/catalog.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hitchdev/hitch/handlers/middleware"
	"github.com/hitchdev/hitch/internal/appsettings"
	"github.com/hitchdev/hitch/internal/auth"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/events"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/webhook"
)

// Handler serves the API routes.
type Handler struct {
	Connect   *connect.Service
	Apps      *appsettings.Service // console settings: disabled apps are left out; nil: the catalog alone
	Catalog   *catalog.Catalog
	Store     *store.Store
	PublicURL string // absolute, no trailing slash; for logo URLs and connect links
	// PublicOrigin is PublicURL's scheme://host: Hitch's own pages may open sessions.
	PublicOrigin string
	// OriginAllowed says whether a browser origin may open connect sessions.
	OriginAllowed func(origin string) bool
	// Webhooks manages webhook endpoints and their delivery log (admin routes in webhooks.go).
	Webhooks *webhook.Service
	// Lister serves the connection list pages.
	Lister *connect.Lister
}

// Register mounts the API on e; authn guards every tenant route.
func (h *Handler) Register(e *echo.Echo, authn *middleware.Authenticator) {
	e.GET("/healthz", h.healthz)
	e.GET("/readyz", h.readyz)
	e.GET("/apps", h.listApps)

	// Middleware per route, not an Echo group: a group with middleware
	// claims every unmatched path and would turn 405s into 404s.
	e.POST("/connect", h.postConnect, authn.Require)
	e.GET("/connect/:id", h.getSession, authn.Require)
	e.POST("/connect/:id/cancel", h.cancelSession, authn.Require)
	e.GET("/connections", h.listConnections, authn.Require)
	e.GET("/connections/:id", h.getConnection, authn.Require)
	e.DELETE("/connections/:id", h.archiveConnection, authn.Require)
	e.GET("/connections/:id/credentials", h.getCredentials, authn.Require)
	e.GET("/events", h.listEvents, authn.Require)
	e.GET("/webhooks/endpoints", h.listWebhookEndpoints, authn.Require, requireAdmin)
	e.POST("/webhooks/endpoints", h.createWebhookEndpoint, authn.Require, requireAdmin)
	e.GET("/webhooks/endpoints/:id", h.getWebhookEndpoint, authn.Require, requireAdmin)
	e.PATCH("/webhooks/endpoints/:id", h.updateWebhookEndpoint, authn.Require, requireAdmin)
	e.DELETE("/webhooks/endpoints/:id", h.disableWebhookEndpoint, authn.Require, requireAdmin)
	e.POST("/webhooks/endpoints/:id/rotate-secret", h.rotateWebhookSecret, authn.Require, requireAdmin)
	e.GET("/webhooks/endpoints/:id/deliveries", h.listWebhookDeliveries, authn.Require, requireAdmin)
	e.POST("/webhooks/deliveries/:id/redeliver", h.redeliverWebhook, authn.Require, requireAdmin)
}

func (h *Handler) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (h *Handler) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := h.Store.Ping(ctx); err != nil {
		return fault.Wrap(err, fault.Unavailable, "database_unavailable", "The database is not reachable.")
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// connectRequest is the body of POST /connect.
type connectRequest struct {
	Intent       string            `json:"intent"`
	AppKey       string            `json:"appKey"`
	ConnectionID string            `json:"connectionId"`
	Name         string            `json:"name"`
	Credentials  map[string]string `json:"credentials"`
	TenantKey    string            `json:"tenantKey"`
}

func (h *Handler) postConnect(c echo.Context) error {
	var req connectRequest
	if err := decodeJSON(c.Request(), &req); err != nil {
		return err
	}
	p := middleware.Principal(c)
	tenant, err := bodyTenant(p, req.TenantKey)
	if err != nil {
		return err
	}
	name := p.TenantName
	if p.Admin && tenant != p.TenantKey {
		name = ""
	}
	if req.Credentials == nil {
		return h.startSession(c, req, tenant, name)
	}
	if req.AppKey == "" {
		return fault.New(fault.Invalid, "app_key_required", "Credentials need an appKey naming the app they are for.")
	}
	if req.ConnectionID != "" {
		return fault.New(fault.Invalid, "invalid_request", "Send either connectionId (reconnect) or credentials for a new connection, not both.")
	}
	conn, err := h.Connect.Create(c.Request().Context(), connect.CreateInput{
		TenantKey: tenant, TenantName: name, AppKey: req.AppKey, Name: req.Name, Credentials: req.Credentials,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"connection": connect.View(conn)})
}

// sessionView is a connect session as the API shows it.
type sessionView struct {
	ID         string              `json:"id"`
	URL        string              `json:"url,omitempty"`
	Status     string              `json:"status"`
	ExpiresAt  string              `json:"expiresAt"`
	Detached   bool                `json:"detached"`
	Connection *connect.Connection `json:"connection,omitempty"`
	Error      *connect.ErrorInfo  `json:"error,omitempty"`
}

// startSession opens a connect session. A browser caller's Origin must be
// an allowed host origin (or Hitch's own); it becomes the session's host
// origin, the only target the popup will post the outcome to.
func (h *Handler) startSession(c echo.Context, req connectRequest, tenant, tenantName string) error {
	origin := c.Request().Header.Get(echo.HeaderOrigin)
	if origin == "null" {
		return fault.New(fault.Forbidden, "origin_not_allowed", "Connect sessions cannot be opened from an opaque origin.")
	}
	if origin != "" && origin != h.PublicOrigin && (h.OriginAllowed == nil || !h.OriginAllowed(origin)) {
		return fault.New(fault.Forbidden, "origin_not_allowed", "The origin %s is not in HITCH_ALLOWED_ORIGINS.", origin)
	}
	sess, code, err := h.Connect.Start(c.Request().Context(), connect.StartInput{
		TenantKey: tenant, TenantName: tenantName, Intent: req.Intent, AppKey: req.AppKey,
		ConnectionID: req.ConnectionID, Name: req.Name, HostOrigin: origin,
	})
	if err != nil {
		return err
	}
	v, err := h.session(c, sess)
	if err != nil {
		return err
	}
	v.URL = h.PublicURL + "/c/" + code
	return c.JSON(http.StatusOK, v)
}

func (h *Handler) session(c echo.Context, s store.Session) (sessionView, error) {
	out, err := h.Connect.Outcome(c.Request().Context(), s)
	if err != nil {
		return sessionView{}, err
	}
	return sessionView{
		ID: s.ID, Status: s.Status, ExpiresAt: s.ExpiresAt.UTC().Format(time.RFC3339), Detached: s.Detached,
		Connection: out.Connection, Error: out.Error,
	}, nil
}

func (h *Handler) getSession(c echo.Context) error {
	wait, err := queryInt(c, "wait", 0, 0, 60)
	if err != nil {
		return err
	}
	sess, err := h.Connect.Wait(c.Request().Context(), scope(middleware.Principal(c)), c.Param("id"), time.Duration(wait)*time.Second)
	if err != nil {
		return err
	}
	v, err := h.session(c, sess)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (h *Handler) cancelSession(c echo.Context) error {
	sess, err := h.Connect.Cancel(c.Request().Context(), scope(middleware.Principal(c)), c.Param("id"))
	if err != nil {
		return err
	}
	v, err := h.session(c, sess)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// bodyTenant picks the tenant a write acts for: the token's own, or for an
// admin the one named in the body.
func bodyTenant(p auth.Principal, named string) (string, error) {
	if !p.Admin {
		if named != "" && named != p.TenantKey {
			return "", fault.New(fault.Forbidden, "forbidden", "A tenant token can act only for its own tenant.")
		}
		return p.TenantKey, nil
	}
	if named == "" {
		named = p.TenantKey
	}
	if named == "" {
		return "", fault.New(fault.Invalid, "tenant_key_required", "An admin token must name the tenant in tenantKey.")
	}
	if len(named) > 255 || strings.ContainsFunc(named, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", fault.New(fault.Invalid, "invalid_tenant_key", "tenantKey must be 1-255 printable characters.")
	}
	return named, nil
}

// queryTenant picks the tenant a read is scoped to: the token's own, or for an
// admin the ?tenantKey= filter ("" = every tenant).
func queryTenant(c echo.Context) (string, error) {
	p := middleware.Principal(c)
	named := c.QueryParam("tenantKey")
	if p.Admin {
		return named, nil
	}
	if named != "" && named != p.TenantKey {
		return "", fault.New(fault.Forbidden, "forbidden", "A tenant token can read only its own tenant.")
	}
	return p.TenantKey, nil
}

func (h *Handler) listConnections(c echo.Context) error {
	tenant, err := queryTenant(c)
	if err != nil {
		return err
	}
	f := store.ConnectionFilter{
		TenantKey: tenant,
		AppKey:    c.QueryParam("appKey"),
		Search:    c.QueryParam("search"),
		Cursor:    c.QueryParam("cursor"),
	}
	if f.Limit, err = queryInt(c, "limit", 100, 1, 500); err != nil {
		return err
	}
	if v := c.QueryParam("disconnected"); v != "" {
		b, err := queryBool("disconnected", v)
		if err != nil {
			return err
		}
		f.Disconnected = &b
	}
	if v := c.QueryParam("includeArchived"); v != "" {
		if f.IncludeArchived, err = queryBool("includeArchived", v); err != nil {
			return err
		}
	}
	if len(f.Search) > 255 || len(f.AppKey) > 255 {
		return middleware.BadRequest("invalid_query", "search and appKey are at most 255 characters.")
	}
	if pretty(c) {
		rows, next, err := h.Store.ListConnectionSummaries(c.Request().Context(), f)
		if err != nil {
			return cursorError(err)
		}
		items := make([]connect.Connection, len(rows))
		for i, r := range rows {
			items[i] = connect.ViewSummary(r)
		}
		return c.JSON(http.StatusOK, page{Items: items, Cursor: cursorValue(next)})
	}
	// The hot path: the page as the Lister rendered it (the same bytes encoding/json writes for the
	// page above, a test compares them), from its cache when nothing listed changed since.
	p, err := h.Lister.Page(c.Request().Context(), f)
	if err != nil {
		return cursorError(err)
	}
	c.Response().Header().Set("ETag", p.ETag)
	if connect.ETagMatches(c.Request().Header.Get("If-None-Match"), p.ETag) {
		return c.NoContent(http.StatusNotModified)
	}
	return writeJSON(c, http.StatusOK, p.Body)
}

// pretty reports whether c.JSON would indent its output (?pretty, or Echo's debug mode); the
// hand-rendered pages then defer to it.
func pretty(c echo.Context) bool {
	_, ok := c.QueryParams()["pretty"]
	return ok || c.Echo().Debug
}

// writeJSON sends a rendered JSON body in one write, with its length (c.JSON streams it in chunks).
func writeJSON(c echo.Context, status int, body []byte) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
	c.Response().WriteHeader(status)
	_, err := c.Response().Write(body)
	return err
}

// page is every list response: items and the cursor of the next page, null at the end.
type page struct {
	Items  any     `json:"items"`
	Cursor *string `json:"cursor"`
}

func cursorValue(next string) *string {
	if next == "" {
		return nil
	}
	return &next
}

func cursorError(err error) error {
	if errors.Is(err, store.ErrInvalidCursor) {
		return middleware.BadRequest("invalid_cursor", "The cursor is not one this API returned.")
	}
	return err
}

func (h *Handler) getConnection(c echo.Context) error {
	p := middleware.Principal(c)
	conn, err := h.Connect.Get(c.Request().Context(), scope(p), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, connect.View(conn))
}

func (h *Handler) archiveConnection(c echo.Context) error {
	p := middleware.Principal(c)
	conn, err := h.Connect.Archive(c.Request().Context(), scope(p), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, connect.View(conn))
}

// scope is the tenant a single-row lookup is confined to ("" for admins).
func scope(p auth.Principal) string {
	if p.Admin {
		return ""
	}
	return p.TenantKey
}

// appView is one app in GET /apps.
type appView struct {
	Key        string   `json:"key"`
	Name       string   `json:"name"`
	Categories []string `json:"categories"`
	Aliases    []string `json:"aliases"`
	Domains    []string `json:"domains"`
	AuthType   string   `json:"authType"`
	Logo       string   `json:"logo"`
	DocsURL    string   `json:"docsUrl,omitempty"`
	Configured bool     `json:"configured"`
	Score      float64  `json:"score"`
	Decisive   bool     `json:"decisive"`
}

func (h *Handler) listApps(c echo.Context) error {
	q := catalog.Query{Text: c.QueryParam("search"), Category: c.QueryParam("category")}
	if len(q.Text) > 512 || len(q.Category) > 64 {
		return middleware.BadRequest("invalid_query", "search is at most 512 characters and category at most 64.")
	}
	def := 50
	if strings.TrimSpace(q.Text) == "" {
		def = 1000 // no search: the whole catalog by name
	}
	var err error
	if q.Limit, err = queryInt(c, "limit", def, 1, 1000); err != nil {
		return err
	}
	results := h.Catalog.Search(q)
	snap, err := h.Apps.Snapshot(c.Request().Context())
	if err != nil {
		return err
	}
	items := make([]appView, 0, len(results))
	for _, r := range results {
		a := r.App
		st := snap.State(a)
		if !st.Enabled {
			continue // turned off in the console: not offered to anyone
		}
		items = append(items, appView{
			Key: a.Key, Name: a.Name, Categories: nonNil(a.Categories), Aliases: nonNil(a.Aliases),
			Domains: nonNil(a.Domains), AuthType: a.Auth.Type, Logo: h.absolute(a.Logo), DocsURL: a.DocsURL,
			Configured: st.Usable(a), Score: r.Score, Decisive: r.Decisive,
		})
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

func (h *Handler) absolute(path string) string {
	if strings.HasPrefix(path, "/") {
		return h.PublicURL + path
	}
	return path
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// eventView is one event in GET /events: the webhook payload plus its id.
type eventView struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

func (h *Handler) listEvents(c echo.Context) error {
	tenant, err := queryTenant(c)
	if err != nil {
		return err
	}
	f := store.EventFilter{TenantKey: tenant, ConnectionID: c.QueryParam("connectionId"), Cursor: c.QueryParam("cursor")}
	if f.Limit, err = queryInt(c, "limit", 100, 1, 500); err != nil {
		return err
	}
	if t := c.QueryParam("type"); t != "" {
		for _, one := range strings.Split(t, ",") {
			if !events.Known(one) {
				return middleware.BadRequest("invalid_query", "type must be one or more of connection.created, connection.deleted, connection.disconnected, connection.reconnected.")
			}
			f.Types = append(f.Types, one)
		}
	}
	rows, next, err := h.Store.ListEvents(c.Request().Context(), f)
	if err != nil {
		return cursorError(err)
	}
	items := make([]eventView, 0, len(rows))
	for _, r := range rows {
		var body struct {
			Timestamp string          `json:"timestamp"`
			Data      json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(r.Payload, &body); err != nil {
			return err
		}
		items = append(items, eventView{ID: r.ID, Type: r.Type, Timestamp: body.Timestamp, Data: body.Data})
	}
	return c.JSON(http.StatusOK, page{Items: items, Cursor: cursorValue(next)})
}

func queryInt(c echo.Context, name string, def, lo, hi int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, middleware.BadRequest("invalid_query", name+" must be a whole number from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi)+".")
	}
	return n, nil
}

func queryBool(name, v string) (bool, error) {
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, middleware.BadRequest("invalid_query", name+" must be true or false.")
}
