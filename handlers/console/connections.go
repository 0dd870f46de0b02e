package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/hitchdev/hitch/handlers/middleware"
	"github.com/hitchdev/hitch/internal/auth"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/events"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/store"
	views "github.com/hitchdev/hitch/views/console"
)

// Page sizes of the connections pages.
const (
	connectionsPageSize = 50
	historySize         = 50
)

// connectLinkLabel starts the flash label of a connect link; the session
// page recognises its link by it.
const connectLinkLabel = "Connect link"

func (h *Handler) registerConnections(g *echo.Group) {
	g.GET("/connections", h.listConnections)
	g.GET("/connections/new", h.newConnectionForm)
	g.POST("/connections/new", h.createConnection)
	g.GET("/connections/:id", h.connectionDetail)
	g.POST("/connections/:id/reconnect", h.reconnect)
	g.GET("/connections/:id/archive", h.archiveForm)
	g.POST("/connections/:id/archive", h.archive)
	g.GET("/sessions/:id", h.sessionPage)
	g.GET("/sessions/:id/status", h.sessionStatus)
	g.POST("/sessions/:id/cancel", h.cancelSession)
}

// listConnections is GET /console/connections: filters, table, pager.
func (h *Handler) listConnections(c echo.Context) error {
	ctx := c.Request().Context()
	f := views.ConnectionFilters{
		Tenant:   strings.TrimSpace(c.QueryParam("tenant")),
		App:      strings.TrimSpace(c.QueryParam("app")),
		State:    c.QueryParam("state"),
		Archived: c.QueryParam("archived") != "",
		Q:        strings.TrimSpace(c.QueryParam("q")),
	}
	sf := store.ConnectionFilter{
		TenantKey: f.Tenant, AppKey: f.App, IncludeArchived: f.Archived, Search: f.Q,
		Limit: connectionsPageSize, Cursor: c.QueryParam("cursor"),
	}
	switch f.State {
	case views.StateActive:
		sf.Disconnected = new(bool)
	case views.StateDisconnected:
		yes := true
		sf.Disconnected = &yes
	default:
		f.State = views.StateAll
	}
	rows, next, err := h.Store.ListConnectionSummaries(ctx, sf)
	if err != nil {
		return listError(err)
	}
	p := views.ConnectionsPage{
		Page:     h.page(c, "Connections", views.SectionConnections),
		Filters:  f,
		Apps:     h.appChoices(),
		ClearURL: "/console/connections",
		CreateURL: views.WithQuery("/console/connections/new", url.Values{
			"tenant": {f.Tenant}, "app": {f.App},
		}),
		Pager: pager("/console/connections", f.Query(), next, sf.Cursor, len(rows)),
	}
	if f.Tenant != "" {
		if t, err := h.Store.GetTenant(ctx, f.Tenant); err == nil {
			p.TenantName = t.Name
		}
	}
	p.Rows = make([]views.ConnView, len(rows))
	for i, conn := range rows {
		p.Rows[i] = h.connView(conn)
	}
	return h.render(c, http.StatusOK, views.ConnectionsList(p))
}

// listError turns a cursor the store does not recognise into a friendly 400.
func listError(err error) error {
	if errors.Is(err, store.ErrInvalidCursor) {
		return fault.New(fault.Invalid, "invalid_cursor", "This page link is not valid any more. Start again from the first page.")
	}
	return err
}

// pager links to the next page (keeping the filters) and back to the first.
func pager(path string, q url.Values, next, cursor string, n int) views.Pager {
	pg := views.Pager{Count: n}
	if next != "" {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("cursor", next)
		pg.NextURL = views.WithQuery(path, nq)
	}
	if cursor != "" {
		pg.FirstURL = views.WithQuery(path, q)
	}
	return pg
}

// appChoices is the whole catalog by name, for filters.
func (h *Handler) appChoices() []views.AppChoice {
	all := h.Catalog.All()
	out := make([]views.AppChoice, 0, len(all))
	for _, a := range all {
		out = append(out, views.AppChoice{Key: a.Key, Name: a.Name})
	}
	return out
}

// usableApps is the apps a new connection may use now: enabled and, for
// OAuth, with a client.
func (h *Handler) usableApps(ctx context.Context) ([]views.AppChoice, error) {
	snap, err := h.Apps.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	var out []views.AppChoice
	for _, a := range h.Catalog.All() {
		if snap.State(a).Usable(a) {
			out = append(out, views.AppChoice{Key: a.Key, Name: a.Name})
		}
	}
	return out, nil
}

// connApp is an app as connections show it, the key standing in for an app
// the catalog no longer has.
func (h *Handler) connApp(key string) views.ConnApp {
	if a, ok := h.Catalog.Get(key); ok {
		return views.ConnApp{Key: a.Key, Name: a.Name, Logo: a.Logo}
	}
	return views.ConnApp{Key: key, Name: key}
}

// connView renders a connection's listed part for the console (the list reads only that part, so its
// pages never load a ciphertext); input values are copied except any field the catalog marks secret.
func (h *Handler) connView(c store.ConnectionSummary) views.ConnView {
	v := views.ConnView{
		ID: c.ID, Name: c.Name, TenantKey: c.TenantKey, App: h.connApp(c.AppKey), AuthType: c.AuthType,
		Disconnected: c.Disconnected, ErrorCode: c.ErrorCode, ErrorMessage: c.ErrorMessage,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, ArchivedAt: c.ArchivedAt,
		LastRefreshAt: c.LastRefreshAt, NextRefreshAt: c.NextRefreshAt, RetryAttempts: c.RetryAttempts,
	}
	if v.Name == "" {
		v.Name = v.App.Name
	}
	app, _ := h.Catalog.Get(c.AppKey)
	seen := map[string]bool{}
	if app != nil {
		for _, f := range app.Auth.Fields {
			val, ok := c.Input[f.Key]
			seen[f.Key] = true
			if !ok || f.Secret {
				continue
			}
			v.Input = append(v.Input, views.InputField{Key: f.Key, Label: orDefault(f.Label, f.Key), Value: val})
		}
	}
	var rest []string
	for k := range c.Input {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		v.Input = append(v.Input, views.InputField{Key: k, Label: k, Value: c.Input[k]})
	}
	return v
}

func orDefault(s, d string) string {
	if s != "" {
		return s
	}
	return d
}

// connection loads one connection of any tenant, or a friendly 404.
func (h *Handler) connection(c echo.Context) (store.Connection, error) {
	return h.Connect.Get(c.Request().Context(), "", c.Param("id"))
}

// connectionDetail is GET /console/connections/:id.
func (h *Handler) connectionDetail(c echo.Context) error {
	ctx := c.Request().Context()
	conn, err := h.connection(c)
	if err != nil {
		return err
	}
	v := h.connView(conn.Summary())
	if t, err := h.Store.GetTenant(ctx, conn.TenantKey); err == nil {
		v.TenantName = t.Name
	}
	attempts, err := h.Store.ListRefreshAttempts(ctx, conn.ID, historySize)
	if err != nil {
		return err
	}
	evs, _, err := h.Store.ListEvents(ctx, store.EventFilter{ConnectionID: conn.ID, Limit: historySize})
	if err != nil {
		return err
	}
	p := views.ConnectionDetailPage{Page: h.page(c, v.Name, views.SectionConnections), Conn: v}
	for _, a := range attempts {
		p.Refresh = append(p.Refresh, views.ConnRefresh{
			At: a.AttemptedAt, Outcome: a.Outcome, ErrorCode: a.ErrorCode, ErrorMessage: a.ErrorMessage, Duration: a.Duration,
		})
	}
	for _, e := range evs {
		p.Events = append(p.Events, eventView(e))
	}
	return h.render(c, http.StatusOK, views.ConnectionDetail(p))
}

// eventView summarises a lifecycle event from its payload.
func eventView(e store.Event) views.ConnEvent {
	v := views.ConnEvent{ID: e.ID, Type: e.Type, At: e.CreatedAt}
	var body struct {
		Data struct {
			Connection struct {
				Name  string             `json:"name"`
				Error *connect.ErrorInfo `json:"error"`
			} `json:"connection"`
		} `json:"data"`
	}
	_ = json.Unmarshal(e.Payload, &body) // a summary is a nicety; the type alone still says what happened
	conn := body.Data.Connection
	switch e.Type {
	case events.ConnectionCreated:
		v.Kind, v.Summary = "success", "Connected"
		if conn.Name != "" {
			v.Summary = "Connected as “" + conn.Name + "”"
		}
	case events.ConnectionReconnected:
		v.Kind, v.Summary = "accent", "Reconnected; the error was cleared"
	case events.ConnectionDisconnected:
		v.Kind, v.Summary = "danger", "Disconnected"
		if conn.Error != nil && conn.Error.Code != "" {
			v.Summary = "Disconnected: " + conn.Error.Code
			if conn.Error.Message != "" {
				v.Summary += " — " + conn.Error.Message
			}
		}
	case events.ConnectionDeleted:
		v.Summary = "Archived; credentials erased"
	}
	return v
}

// newConnectionForm is GET /console/connections/new, prefilled from the query.
func (h *Handler) newConnectionForm(c echo.Context) error {
	apps, err := h.usableApps(c.Request().Context())
	if err != nil {
		return err
	}
	form := views.ConnectionForm{
		TenantKey: c.QueryParam("tenant"), App: c.QueryParam("app"),
		Intent: c.QueryParam("intent"), Name: c.QueryParam("name"),
	}
	if !slices.ContainsFunc(apps, func(a views.AppChoice) bool { return a.Key == form.App }) {
		form.App = ""
	}
	p := views.ConnectionNewPage{Page: h.page(c, "Create connection", views.SectionConnections), Form: form, Apps: apps}
	return h.render(c, http.StatusOK, views.ConnectionNew(p))
}

// checkTenantKey applies the tenant token's rule: 1-255 characters, valid
// UTF-8, no control characters.
func checkTenantKey(k string) string {
	switch {
	case k == "":
		return "Enter the tenant key."
	case !utf8.ValidString(k) || strings.ContainsFunc(k, unicode.IsControl):
		return "The tenant key must be printable text, without control characters."
	case utf8.RuneCountInString(k) > auth.MaxTenantKeyLen:
		return "The tenant key must be at most 255 characters."
	}
	return ""
}

// createConnection is POST /console/connections/new: it starts a connect
// session and shows its page with the link, once.
func (h *Handler) createConnection(c echo.Context) error {
	ctx := c.Request().Context()
	vals, err := formValues(c)
	if err != nil {
		return err
	}
	form := views.ConnectionForm{
		TenantKey: strings.TrimSpace(vals.Get("tenantKey")), TenantName: strings.TrimSpace(vals.Get("tenantName")),
		App: vals.Get("app"), Intent: strings.TrimSpace(vals.Get("intent")), Name: strings.TrimSpace(vals.Get("name")),
	}
	apps, err := h.usableApps(ctx)
	if err != nil {
		return err
	}
	var errs views.ConnectionFormErrors
	errs.TenantKey = checkTenantKey(form.TenantKey)
	if utf8.RuneCountInString(form.TenantName) > 255 || strings.ContainsFunc(form.TenantName, unicode.IsControl) {
		errs.TenantName = "The display name must be at most 255 printable characters."
	}
	if form.App != "" && !slices.ContainsFunc(apps, func(a views.AppChoice) bool { return a.Key == form.App }) {
		errs.App = "Pick an app from the list; that one cannot be connected now."
	}
	if !errs.Any() {
		in := connect.StartInput{TenantKey: form.TenantKey, TenantName: form.TenantName, AppKey: form.App, Name: form.Name}
		if form.App == "" {
			in.Intent = form.Intent
		}
		sess, code, err := h.Connect.Start(ctx, in)
		if err == nil {
			h.flashLink(c, sess, code, "Connect session started for tenant "+sess.TenantKey+". Open the connect window, or send the link to the user.")
			return redirect(c, "/console/sessions/"+url.PathEscape(sess.ID))
		}
		fe, ok := fault.As(err)
		if !ok {
			return err
		}
		switch fe.Code {
		case "invalid_intent":
			errs.Intent = fe.Message
		case "invalid_name":
			errs.Name = fe.Message
		case "app_disabled", "app_not_configured", "app_not_found":
			errs.App = fe.Message
		default:
			errs.Form = fe.Message
		}
	}
	p := views.ConnectionNewPage{Page: h.page(c, "Create connection", views.SectionConnections), Form: form, Errors: errs, Apps: apps}
	return h.render(c, http.StatusUnprocessableEntity, views.ConnectionNew(p))
}

// flashLink queues the session's connect link, shown once on its page.
func (h *Handler) flashLink(c echo.Context, sess store.Session, code, text string) {
	h.flash(c, views.Flash{
		Kind: "success", Text: text, Secret: h.PublicURL + "/c/" + code,
		SecretLabel: connectLinkLabel + " — works once, expires " + views.Stamp(sess.ExpiresAt),
	})
}

// reconnect is POST /console/connections/:id/reconnect: a session that
// renews this connection's credentials, keeping its id.
func (h *Handler) reconnect(c echo.Context) error {
	conn, err := h.connection(c)
	if err != nil {
		return err
	}
	sess, code, err := h.Connect.Start(c.Request().Context(), connect.StartInput{TenantKey: conn.TenantKey, ConnectionID: conn.ID})
	if fe, ok := fault.As(err); ok && fe.Kind != fault.NotFound {
		// The app was turned off, the connection archived meanwhile…: say so where the button was.
		h.flash(c, views.Flash{Kind: "error", Text: fe.Message})
		return redirect(c, "/console/connections/"+url.PathEscape(conn.ID))
	}
	if err != nil {
		return err
	}
	h.flashLink(c, sess, code, "Reconnect session started for "+orDefault(conn.Name, conn.AppKey)+". Open the connect window, or send the link to the user.")
	return redirect(c, "/console/sessions/"+url.PathEscape(sess.ID))
}

// archiveForm is GET /console/connections/:id/archive, the confirmation.
func (h *Handler) archiveForm(c echo.Context) error {
	conn, err := h.connection(c)
	if err != nil {
		return err
	}
	if conn.ArchivedAt != nil {
		h.flash(c, views.Flash{Kind: "info", Text: "This connection is already archived."})
		return redirect(c, "/console/connections/"+url.PathEscape(conn.ID))
	}
	v := h.connView(conn.Summary())
	p := views.ConnectionArchivePage{Page: h.page(c, "Archive "+v.Name, views.SectionConnections), Conn: v, OAuth: conn.AuthType == catalog.AuthOAuth2}
	if p.OAuth {
		if app, _, err := h.Connect.Lookup(c.Request().Context(), conn.AppKey); err == nil && app.Auth.RevokeURL != "" {
			p.Revokes = true
		}
	}
	return h.render(c, http.StatusOK, views.ConnectionArchive(p))
}

// archive is POST /console/connections/:id/archive.
func (h *Handler) archive(c echo.Context) error {
	before, err := h.connection(c)
	if err != nil {
		return err
	}
	if before.ArchivedAt != nil {
		h.flash(c, views.Flash{Kind: "info", Text: "This connection was already archived."})
		return redirect(c, "/console/connections/"+url.PathEscape(before.ID))
	}
	conn, err := h.Connect.Archive(c.Request().Context(), "", before.ID)
	if err != nil {
		return err
	}
	h.flash(c, views.Flash{Kind: "success", Text: "Archived " + orDefault(conn.Name, conn.ID) + ". Its credentials are erased and connection.deleted was sent."})
	return redirect(c, "/console/connections/"+url.PathEscape(conn.ID))
}

// sessionPage is GET /console/sessions/:id.
func (h *Handler) sessionPage(c echo.Context) error {
	ctx := c.Request().Context()
	sess, err := h.Connect.Session(ctx, "", c.Param("id"))
	if err != nil {
		return err
	}
	v := views.SessionView{
		ID: sess.ID, Status: sess.Status, TenantKey: sess.TenantKey, TenantName: sess.TenantName,
		Intent: sess.Intent, Name: sess.Name, ConnectionID: sess.ConnectionID, ResultConnectionID: sess.ResultConnectionID,
		ErrorCode: sess.ErrorCode, ErrorMessage: sess.ErrorMessage,
		CreatedAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt, CodeUsedAt: sess.CodeUsedAt,
	}
	if sess.AppKey != "" {
		v.App = h.connApp(sess.AppKey)
	}
	if v.TenantName == "" {
		if t, err := h.Store.GetTenant(ctx, sess.TenantKey); err == nil {
			v.TenantName = t.Name
		}
	}
	if sess.ConnectionID != "" {
		if conn, err := h.Store.GetConnection(ctx, sess.ConnectionID, ""); err == nil {
			v.ConnectionName = conn.Name
		}
	}
	p := views.ConnectSessionPage{
		Page: h.page(c, "Connect session", views.SectionConnections), Session: v,
		StatusURL: "/console/sessions/" + url.PathEscape(sess.ID) + "/status",
	}
	// The link travels in the flash. This session's link (its code hashes
	// to the session's) moves from the flash into the page.
	for i, f := range p.Flashes {
		if f.Secret == "" || !strings.HasPrefix(f.SecretLabel, connectLinkLabel) {
			continue
		}
		code, ok := strings.CutPrefix(f.Secret, h.PublicURL+"/c/")
		if !ok || sess.CodeHash == "" || connect.Digest(code) != sess.CodeHash {
			continue
		}
		if sess.Status == store.SessionPending {
			p.Link, p.LinkExpires = f.Secret, views.Stamp(sess.ExpiresAt)
		}
		p.Flashes[i].Secret, p.Flashes[i].SecretLabel = "", ""
	}
	return h.render(c, http.StatusOK, views.ConnectSession(p))
}

// sessionStatus is GET /console/sessions/:id/status, polled by the session
// page while pending.
func (h *Handler) sessionStatus(c echo.Context) error {
	sess, err := h.Connect.Session(c.Request().Context(), "", c.Param("id"))
	if err != nil {
		status, env := middleware.Describe(err)
		if status >= 500 {
			h.Log.ErrorContext(c.Request().Context(), "console session status failed", "error", err)
		}
		return c.JSON(status, map[string]any{"error": env})
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusOK, map[string]string{"status": sess.Status, "connectionId": sess.ResultConnectionID})
}

// cancelSession is POST /console/sessions/:id/cancel.
func (h *Handler) cancelSession(c echo.Context) error {
	sess, err := h.Connect.Cancel(c.Request().Context(), "", c.Param("id"))
	if err != nil {
		return err
	}
	if sess.Status == store.SessionCancelled {
		h.flash(c, views.Flash{Kind: "success", Text: "The connect session was cancelled; its link no longer works."})
	} else {
		h.flash(c, views.Flash{Kind: "info", Text: "The session had already ended (" + sess.Status + ")."})
	}
	return redirect(c, "/console/sessions/"+url.PathEscape(sess.ID))
}
