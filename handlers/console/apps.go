package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/hitchdev/hitch/internal/appsettings"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/store"
	views "github.com/hitchdev/hitch/views/console"
)

// appsPerPage is the Apps list's page size. The catalog lives in memory, so
// pages are plain page numbers over the filtered list.
const appsPerPage = 50

func (h *Handler) registerApps(g *echo.Group) {
	g.GET("/apps", h.appsList)
	g.GET("/apps/:key", h.appDetail)
	g.POST("/apps/:key/enabled", h.appSetEnabled)
	g.POST("/apps/:key/client", h.appSaveClient)
	g.POST("/apps/:key/client/delete", h.appClearClient)
}

func (h *Handler) appsList(c echo.Context) error {
	ctx := c.Request().Context()
	p := views.AppsPage{
		Page:     h.page(c, "Apps", views.SectionApps),
		Query:    strings.TrimSpace(c.QueryParam("q")),
		Category: c.QueryParam("category"),
		State:    c.QueryParam("state"),
	}
	if len(p.Query) > 200 {
		p.Query = p.Query[:200]
	}
	switch p.State {
	case views.AppStateAll, views.AppStateEnabled, views.AppStateDisabled, views.AppStateNeedsClient:
	default:
		p.State = views.AppStateAll
	}
	for _, k := range h.Catalog.Categories() {
		p.Categories = append(p.Categories, views.AppsOption{Value: k, Label: catalog.CategoryName(k)})
	}
	if p.Category != "" && !containsOption(p.Categories, p.Category) {
		p.Category = ""
	}
	p.States = []views.AppsOption{
		{Value: views.AppStateAll, Label: "All apps"},
		{Value: views.AppStateEnabled, Label: "Enabled"},
		{Value: views.AppStateDisabled, Label: "Disabled"},
		{Value: views.AppStateNeedsClient, Label: "Needs OAuth client"},
	}
	p.Filtered = p.Query != "" || p.Category != "" || p.State != ""

	// Search ranks when there is text; without text it lists by name.
	results := h.Catalog.Search(catalog.Query{Text: p.Query, Category: p.Category, Limit: catalog.MaxLimit})
	snap, err := h.Apps.Snapshot(ctx)
	if err != nil {
		return err
	}
	counts, err := h.appCounts(c)
	if err != nil {
		return err
	}
	rows := make([]views.AppRow, 0, len(results))
	for _, r := range results {
		row := appRow(r.App, snap.State(r.App), counts[r.App.Key])
		switch p.State {
		case views.AppStateEnabled:
			if !row.Enabled {
				continue
			}
		case views.AppStateDisabled:
			if row.Enabled {
				continue
			}
		case views.AppStateNeedsClient:
			if !row.OAuth || row.Ready {
				continue
			}
		}
		rows = append(rows, row)
	}

	p.Total = len(rows)
	p.Pages = max(1, (len(rows)+appsPerPage-1)/appsPerPage)
	p.PageNum = 1
	if n, err := strconv.Atoi(c.QueryParam("page")); err == nil && n > 1 {
		p.PageNum = min(n, p.Pages)
	}
	start := (p.PageNum - 1) * appsPerPage
	p.Rows = rows[start:min(start+appsPerPage, len(rows))]
	p.Pager.Count = len(p.Rows)
	q := url.Values{"q": {p.Query}, "category": {p.Category}, "state": {p.State}}
	if p.PageNum < p.Pages {
		q.Set("page", strconv.Itoa(p.PageNum+1))
		p.Pager.NextURL = views.WithQuery("/console/apps", q)
	}
	if p.PageNum > 1 {
		q.Del("page")
		p.Pager.FirstURL = views.WithQuery("/console/apps", q)
	}
	return h.render(c, http.StatusOK, views.Apps(p))
}

func containsOption(opts []views.AppsOption, v string) bool {
	for _, o := range opts {
		if o.Value == v {
			return true
		}
	}
	return false
}

// appCounts returns every app's unarchived connection counts by app key.
func (h *Handler) appCounts(c echo.Context) (map[string]store.AppCount, error) {
	_, list, err := h.Store.TallyConnections(c.Request().Context())
	if err != nil {
		return nil, err
	}
	m := make(map[string]store.AppCount, len(list))
	for _, a := range list {
		m[a.AppKey] = a
	}
	return m, nil
}

// appRow is the list's view of one app.
func appRow(app *catalog.App, st appsettings.State, n store.AppCount) views.AppRow {
	row := views.AppRow{
		Key: app.Key, Name: app.Name, Logo: app.Logo, URL: "/console/apps/" + url.PathEscape(app.Key),
		AuthLabel: authLabel(app.Auth.Type), Enabled: st.Enabled, Sandbox: app.Sandbox,
		OAuth:  app.Auth.Type == catalog.AuthOAuth2 && !app.Sandbox,
		Active: n.Active, Disconnected: n.Disconnected,
	}
	for _, k := range app.Categories {
		row.Categories = append(row.Categories, catalog.CategoryName(k))
	}
	if row.OAuth {
		on := st
		on.Enabled = true // the client's completeness, whether or not the app is on
		row.Ready = on.Usable(app)
	}
	return row
}

func authLabel(t string) string {
	switch t {
	case catalog.AuthOAuth2:
		return "OAuth 2.0"
	case catalog.AuthAPIKey:
		return "API key"
	case catalog.AuthBasic:
		return "Basic"
	}
	return t
}

func tokenAuthLabel(m string) string {
	switch m {
	case catalog.TokenAuthPost:
		return "Client secret in the request body (client_secret_post)"
	case catalog.TokenAuthNone:
		return "None: a public client (PKCE only)"
	}
	return "HTTP Basic with the client secret (client_secret_basic)"
}

// catalogApp returns the app named by the :key path parameter, or a 404 fault.
func (h *Handler) catalogApp(c echo.Context) (*catalog.App, error) {
	key := c.Param("key")
	app, ok := h.Catalog.Get(key)
	if !ok {
		shown := key
		if len(shown) > 64 {
			shown = shown[:64] + "…"
		}
		return nil, fault.New(fault.NotFound, "app_not_found", "There is no app %q in the catalog.", shown)
	}
	return app, nil
}

func (h *Handler) appDetail(c echo.Context) error {
	app, err := h.catalogApp(c)
	if fe, ok := fault.As(err); ok && fe.Kind == fault.NotFound {
		// The friendly 404, with the way back to the catalog.
		p := views.ErrorPage{Page: h.page(c, "Not found", views.SectionApps), Status: http.StatusNotFound, Heading: "Not found",
			Message: fe.Message + " It may have been removed from the apps file.", BackURL: "/console/apps"}
		return h.render(c, http.StatusNotFound, views.Error(p))
	}
	if err != nil {
		return err
	}
	p, err := h.appDetailPage(c, app)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.AppDetail(p))
}

// appDetailPage fills the detail page's model from the catalog and the app's settings.
func (h *Handler) appDetailPage(c echo.Context, app *catalog.App) (views.AppDetailPage, error) {
	ctx := c.Request().Context()
	st, err := h.Apps.State(ctx, app)
	if err != nil {
		return views.AppDetailPage{}, err
	}
	counts, err := h.appCounts(c)
	if err != nil {
		return views.AppDetailPage{}, err
	}
	p := views.AppDetailPage{
		Page:            h.page(c, app.Name, views.SectionApps),
		App:             appRow(app, st, counts[app.Key]),
		DocsURL:         app.DocsURL,
		ConnectionsURL:  views.WithQuery("/console/connections", url.Values{"app": {app.Key}}),
		UpdatedAt:       st.UpdatedAt,
		ClientSource:    st.ClientSource,
		ClientID:        st.ClientID,
		ConfigClientID:  app.Auth.ClientID,
		EnvVar:          "HITCH_APP_" + strings.ToUpper(strings.ReplaceAll(app.Key, "-", "_")) + "_CLIENT_ID",
		SecretNeeded:    app.Auth.TokenAuthMethod != catalog.TokenAuthNone,
		RedirectURI:     h.RedirectURI,
		Scopes:          app.Auth.Scopes,
		AuthType:        app.Auth.Type,
		AuthorizeURL:    app.Auth.AuthorizeURL,
		TokenURL:        app.Auth.TokenURL,
		RevokeURL:       app.Auth.RevokeURL,
		PKCE:            app.UsesPKCE(),
		TokenAuthMethod: tokenAuthLabel(app.Auth.TokenAuthMethod),
	}
	if st.ClientSource == appsettings.SourceConsole {
		p.ConsoleClientID = st.ClientID
		p.ConsoleSecret = st.SecretSet
	}
	p.FormClientID = p.ConsoleClientID
	for _, f := range app.Auth.Fields {
		p.Fields = append(p.Fields, views.AppFieldView{Key: f.Key, Label: f.Label, Help: f.Help, Secret: f.Secret, Optional: f.Optional})
	}
	if t := app.Auth.Test; t != nil && app.Auth.Type != catalog.AuthOAuth2 {
		p.TestRequest = strings.TrimSpace(t.Method + " " + t.URL)
	}
	return p, nil
}

func (h *Handler) appSetEnabled(c echo.Context) error {
	app, err := h.catalogApp(c)
	if err != nil {
		return err
	}
	form, err := formValues(c)
	if err != nil {
		return err
	}
	var on bool
	switch form.Get("enabled") {
	case "true":
		on = true
	case "false":
	default:
		return fault.New(fault.Invalid, "bad_form", "enabled must be true or false.")
	}
	if err := h.Apps.SetEnabled(c.Request().Context(), app.Key, on); err != nil {
		return err
	}
	h.Log.InfoContext(c.Request().Context(), "console: app availability changed", "app", app.Key, "enabled", on, "admin", h.consoleActor(c))
	text := app.Name + " is turned on: tenants can connect it again."
	if !on {
		text = app.Name + " is turned off: it is hidden from the popup and refuses new connections. Existing connections keep refreshing."
	}
	h.flash(c, views.Flash{Kind: "success", Text: text})
	return redirect(c, "/console/apps/"+url.PathEscape(app.Key))
}

func (h *Handler) appSaveClient(c echo.Context) error {
	app, err := h.catalogApp(c)
	if err != nil {
		return err
	}
	form, err := formValues(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	clientID, secret := strings.TrimSpace(form.Get("client_id")), form.Get("client_secret")
	err = h.Apps.SetClient(ctx, app.Key, clientID, secret)
	if fe, ok := fault.As(err); ok && fe.Kind == fault.Invalid && fe.Code != "not_oauth" {
		// Refused: the form again, with the message beside its field; the secret is not echoed.
		p, perr := h.appDetailPage(c, app)
		if perr != nil {
			return perr
		}
		p.FormClientID = clientID
		if fe.Code == "secret_required" || (strings.HasPrefix(fe.Code, "client_value") && strings.Contains(fe.Message, "secret")) {
			p.SecretError = fe.Message
		} else {
			p.ClientIDError = fe.Message
		}
		return h.render(c, http.StatusUnprocessableEntity, views.AppDetail(p))
	}
	if err != nil {
		return err
	}
	h.Log.InfoContext(ctx, "console: app OAuth client saved", "app", app.Key, "new_secret", secret != "", "admin", h.consoleActor(c))
	text := "Saved the OAuth client for " + app.Name + ". New connections and refreshes use it at once."
	if secret == "" {
		text = "Saved the client ID for " + app.Name + "; the stored secret was kept."
	}
	h.flash(c, views.Flash{Kind: "success", Text: text})
	return redirect(c, "/console/apps/"+url.PathEscape(app.Key))
}

func (h *Handler) appClearClient(c echo.Context) error {
	app, err := h.catalogApp(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := h.Apps.ClearClient(ctx, app.Key); err != nil {
		return err
	}
	h.Log.InfoContext(ctx, "console: app OAuth client removed", "app", app.Key, "admin", h.consoleActor(c))
	text := "Removed the console's OAuth client for " + app.Name + "."
	if app.Auth.ClientID != "" {
		text += " The client from configuration applies again."
	} else if app.Auth.Type == catalog.AuthOAuth2 && !app.Sandbox {
		text += " New connections are refused until it has a client."
	}
	h.flash(c, views.Flash{Kind: "success", Text: text})
	return redirect(c, "/console/apps/"+url.PathEscape(app.Key))
}

// consoleActor is the signed-in admin's id, for audit logs.
func (h *Handler) consoleActor(c echo.Context) string {
	if ad, ok := c.Get(adminKey).(store.Admin); ok {
		return ad.ID
	}
	return ""
}
