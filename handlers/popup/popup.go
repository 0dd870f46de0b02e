// Package popup serves the connect popup: the connect-link exchange, the
// find-the-app, consent and credentials pages, the OAuth callback and the
// result page that hands the outcome to the host page.
package popup

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/a-h/templ"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/hitchdev/hitch/handlers/middleware"
	"github.com/hitchdev/hitch/internal/appsettings"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/views/popup"
)

// cookieName is the popup's browser cookie (spec section 5: every cookie is hitch_*).
const cookieName = "hitch_popup"

// Handler serves the popup routes.
type Handler struct {
	Connect   *connect.Service
	Apps      *appsettings.Service // console settings: disabled apps are not offered; nil: the catalog alone
	Catalog   *catalog.Catalog
	Cookies   *sessions.CookieStore
	CSRFKey   []byte // HMAC key for per-browser, per-session CSRF tokens
	Workspace string // the host product's name, shown in the header
	Resolve   func(string) string
	// AllowedOrigins is the CSP frame-ancestors source list for modal mode:
	// the host origins, space-separated.
	AllowedOrigins string
	Log            *slog.Logger
}

// NewCookieStore builds the popup's cookie store: authenticated and
// encrypted, HttpOnly, SameSite=None+Secure on HTTPS (so modal mode works
// in an iframe) and Lax on plain HTTP development servers.
func NewCookieStore(hashKey, blockKey []byte, secure bool) *sessions.CookieStore {
	cs := sessions.NewCookieStore(hashKey, blockKey)
	cs.Options = &sessions.Options{Path: "/", MaxAge: int(connect.SessionTTL.Seconds()) + 600, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
	if secure {
		cs.Options.SameSite = http.SameSiteNoneMode
	}
	return cs
}

// Register mounts the popup routes.
func (h *Handler) Register(e *echo.Echo) {
	e.GET("/c/:code", h.link)
	e.GET("/popup/:id", h.find)
	e.GET("/popup/:id/search", h.search)
	e.GET("/popup/:id/app/:key", h.app)
	e.POST("/popup/:id/app/:key", h.submit)
	e.POST("/popup/:id/cancel", h.cancel)
	e.POST("/popup/:id/detached", h.detached)
	e.GET("/popup/:id/status", h.status)
	e.GET("/oauth/callback", h.callback)
}

// browser returns this browser's id from its cookie, creating one (and
// setting the cookie) when create is true.
func (h *Handler) browser(c echo.Context, create bool) (string, error) {
	sess, _ := h.Cookies.Get(c.Request(), cookieName) // a bad cookie is replaced
	if id, ok := sess.Values["bid"].(string); ok && id != "" {
		return id, nil
	}
	if !create {
		return "", nil
	}
	id := secrets.NewToken()
	sess.Values["bid"] = id
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return "", err
	}
	return id, nil
}

func browserHash(id string) string {
	if id == "" {
		return ""
	}
	return connect.Digest("browser:" + id)
}

func (h *Handler) csrf(browserID, sessionID string) string {
	m := hmac.New(sha256.New, h.CSRFKey)
	m.Write([]byte(browserID + "\x00" + sessionID))
	return hex.EncodeToString(m.Sum(nil))
}

func (h *Handler) checkCSRF(c echo.Context, browserID, sessionID string) error {
	got := c.Request().Header.Get("X-CSRF-Token")
	if got == "" {
		got = c.FormValue("csrf")
	}
	if browserID == "" || !hmac.Equal([]byte(got), []byte(h.csrf(browserID, sessionID))) {
		return fault.New(fault.Forbidden, "csrf_failed", "This form expired or came from another page. Reload the window and try again.")
	}
	return nil
}

// link swaps a one-time connect-link code for this browser's cookie, then
// redirects to a clean URL without the code.
func (h *Handler) link(c echo.Context) error {
	bid, err := h.browser(c, true)
	if err != nil {
		return err
	}
	sess, err := h.Connect.Claim(c.Request().Context(), c.Param("code"), browserHash(bid))
	if err != nil {
		return h.fail(c, err)
	}
	target := "/popup/" + url.PathEscape(sess.ID)
	if c.QueryParam("mode") == "modal" {
		target += "?mode=modal"
	}
	return c.Redirect(http.StatusSeeOther, target)
}

// session loads the browser's session for a popup page.
func (h *Handler) session(c echo.Context) (store.Session, string, error) {
	bid, err := h.browser(c, false)
	if err != nil {
		return store.Session{}, "", err
	}
	sess, err := h.Connect.ForBrowser(c.Request().Context(), c.Param("id"), browserHash(bid))
	return sess, bid, err
}

func (h *Handler) page(c echo.Context, sess store.Session, bid, title string) popup.Page {
	return popup.Page{
		Title: title, Nonce: middleware.Nonce(c), Workspace: h.Workspace, SessionID: sess.ID,
		CSRF: h.csrf(bid, sess.ID), Modal: c.QueryParam("mode") == "modal",
	}
}

// find is step 1: ranked results for the intent, a search box, categories.
// An intent that clearly names one app goes straight to it.
func (h *Handler) find(c echo.Context) error {
	sess, bid, err := h.session(c)
	if err != nil {
		return h.fail(c, err)
	}
	if sess.Status != store.SessionPending {
		return h.result(c, sess, bid)
	}
	base := "/popup/" + url.PathEscape(sess.ID)
	if sess.AppKey != "" {
		return c.Redirect(http.StatusSeeOther, h.appURL(c, sess.ID, sess.AppKey))
	}
	q, browsing := c.QueryParam("q"), c.QueryParam("q") != "" || c.QueryParam("category") != "" || c.QueryParam("all") != ""
	if !browsing {
		q = sess.Intent
	}
	results, err := h.rank(c, q, c.QueryParam("category"))
	if err != nil {
		return h.fail(c, err)
	}
	if !browsing && len(results) > 0 && results[0].Decisive && results[0].usable {
		return c.Redirect(http.StatusSeeOther, h.appURL(c, sess.ID, results[0].App.Key))
	}
	p := popup.SearchPage{
		Page:      h.page(c, sess, bid, "Connect an app"),
		Query:     q,
		Intent:    sess.Intent,
		Category:  c.QueryParam("category"),
		ActionURL: base,
		CancelURL: base + "/cancel",
		SearchURL: base + "/search",
	}
	for _, r := range results {
		p.Results = append(p.Results, h.card(c, sess.ID, r))
	}
	for _, key := range h.Catalog.Categories() {
		if key == "sandbox" {
			continue
		}
		p.Categories = append(p.Categories, popup.Category{
			Key: key, Label: catalog.CategoryName(key), Selected: key == p.Category,
			URL: base + "?category=" + url.QueryEscape(key),
		})
	}
	return h.render(c, http.StatusOK, popup.Search(p), "")
}

// ranked is a search result with whether it can be connected now.
type ranked struct {
	catalog.Result
	usable bool
}

// rank searches the catalog, leaves out apps turned off in the console and
// lists apps that can be connected now first (the sandbox apps, present
// only in demo mode, before all).
func (h *Handler) rank(c echo.Context, q, category string) ([]ranked, error) {
	results := h.Catalog.Search(catalog.Query{Text: q, Category: category, Limit: 60})
	snap, err := h.Apps.Snapshot(c.Request().Context())
	if err != nil {
		return nil, err
	}
	out := make([]ranked, 0, len(results))
	for _, r := range results {
		st := snap.State(r.App)
		if st.Enabled {
			out = append(out, ranked{r, st.Usable(r.App)})
		}
	}
	tier := func(r ranked) int {
		switch {
		case r.App.Sandbox:
			return 0
		case r.usable:
			return 1
		}
		return 2
	}
	sort.SliceStable(out, func(i, j int) bool { return tier(out[i]) < tier(out[j]) })
	return out, nil
}

func (h *Handler) card(c echo.Context, sessionID string, r ranked) popup.AppCard {
	return popup.AppCard{
		Key: r.App.Key, Name: r.App.Name, Logo: r.App.Logo, AuthType: r.App.Auth.Type,
		Categories: labels(r.App.Categories), Configured: r.usable, Decisive: r.Decisive,
		URL: h.appURL(c, sessionID, r.App.Key),
	}
}

func labels(keys []string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, catalog.CategoryName(k))
	}
	return out
}

func (h *Handler) appURL(c echo.Context, sessionID, key string) string {
	u := "/popup/" + url.PathEscape(sessionID) + "/app/" + url.PathEscape(key)
	if c.QueryParam("mode") == "modal" {
		u += "?mode=modal"
	}
	return u
}

// search is the progressive-enhancement JSON behind the search box.
func (h *Handler) search(c echo.Context) error {
	sess, _, err := h.session(c)
	if err != nil {
		return err
	}
	q := c.QueryParam("q")
	if len(q) > 512 {
		q = q[:512]
	}
	items := []popup.AppCard{}
	results, err := h.rank(c, q, c.QueryParam("category"))
	if err != nil {
		return err
	}
	for _, r := range results {
		items = append(items, h.card(c, sess.ID, r))
	}
	type item struct {
		Key        string   `json:"key"`
		Name       string   `json:"name"`
		Logo       string   `json:"logo"`
		URL        string   `json:"url"`
		Categories []string `json:"categories"`
		Configured bool     `json:"configured"`
		Decisive   bool     `json:"decisive"`
	}
	out := make([]item, len(items))
	for i, a := range items {
		out[i] = item{a.Key, a.Name, a.Logo, a.URL, a.Categories, a.Configured, a.Decisive}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out})
}

// app is step 2: the consent interstitial (OAuth) or the credentials form.
func (h *Handler) app(c echo.Context) error {
	sess, bid, err := h.session(c)
	if err != nil {
		return h.fail(c, err)
	}
	if sess.Status != store.SessionPending {
		return h.result(c, sess, bid)
	}
	app, err := h.appFor(c, sess)
	if err != nil {
		return h.fail(c, err)
	}
	if app.Auth.Type == catalog.AuthOAuth2 {
		return h.renderConsent(c, sess, bid, app, nil, "", http.StatusOK)
	}
	return h.renderCredentials(c, sess, bid, app, nil, "", "", http.StatusOK)
}

// appFor resolves the app of a popup URL, holding a reconnect or a chosen
// app to the session's.
func (h *Handler) appFor(c echo.Context, sess store.Session) (*catalog.App, error) {
	key := c.Param("key")
	if sess.AppKey != "" && key != sess.AppKey {
		return nil, fault.New(fault.Invalid, "wrong_app", "This connect window is for another app.")
	}
	return h.Connect.App(c.Request().Context(), key)
}

func (h *Handler) backURL(c echo.Context, sess store.Session) string {
	if sess.AppKey != "" {
		return "" // a reconnect or an app chosen by the host has nothing to go back to
	}
	u := "/popup/" + url.PathEscape(sess.ID) + "?all=1"
	if c.QueryParam("mode") == "modal" {
		u += "&mode=modal"
	}
	return u
}

func (h *Handler) renderConsent(c echo.Context, sess store.Session, bid string, app *catalog.App, values map[string]string, msg string, status int) error {
	requester := sess.TenantName
	if requester == "" {
		requester = sess.TenantKey
	}
	p := popup.ConsentPage{
		Page:      h.page(c, sess, bid, "Connect "+app.Name),
		App:       h.card(c, sess.ID, ranked{catalog.Result{App: app}, true}),
		Requester: requester,
		Scopes:    app.Auth.Scopes,
		Fields:    fields(app, values, msg),
		ActionURL: h.appURL(c, sess.ID, app.Key),
		BackURL:   h.backURL(c, sess),
		CancelURL: "/popup/" + url.PathEscape(sess.ID) + "/cancel",
		Reconnect: sess.ConnectionID != "",
		Error:     msg,
	}
	if p.Modal {
		// Providers refuse to be framed: the form continues in a popup window, which runs the rest of the
		// flow as an ordinary popup (no mode=modal), while this frame waits for the session to end.
		base := "/popup/" + url.PathEscape(sess.ID)
		p.ActionURL = base + "/app/" + url.PathEscape(app.Key)
		p.OAuthWindow = "hitch_oauth_" + sess.ID
		p.StatusURL = base + "/status"
		p.ResultURL = base + "?mode=modal"
	}
	return h.render(c, status, popup.Consent(p), h.providerOrigin(app))
}

func (h *Handler) renderCredentials(c echo.Context, sess store.Session, bid string, app *catalog.App, values map[string]string, msg, provider string, status int) error {
	p := popup.CredentialsPage{
		Page:            h.page(c, sess, bid, "Connect "+app.Name),
		App:             h.card(c, sess.ID, ranked{catalog.Result{App: app}, true}),
		Fields:          fields(app, values, msg),
		ActionURL:       h.appURL(c, sess.ID, app.Key),
		BackURL:         h.backURL(c, sess),
		CancelURL:       "/popup/" + url.PathEscape(sess.ID) + "/cancel",
		Reconnect:       sess.ConnectionID != "",
		Error:           msg,
		ProviderMessage: provider,
	}
	return h.render(c, status, popup.Credentials(p), "")
}

// fields renders an app's form; secret values are never written back.
func fields(app *catalog.App, values map[string]string, msg string) []popup.Field {
	out := make([]popup.Field, 0, len(app.Auth.Fields))
	for _, f := range app.Auth.Fields {
		pf := popup.Field{Key: f.Key, Label: f.Label, Help: f.Help, Placeholder: f.Placeholder, Secret: f.Secret, Optional: f.Optional, Pattern: f.Pattern}
		if !f.Secret {
			pf.Value = values[f.Key]
		}
		if msg != "" && strings.Contains(msg, `"`+f.Key+`"`) {
			pf.Error = msg
		}
		out = append(out, pf)
	}
	return out
}

// submit handles step 2's form: OAuth apps go to the provider, API-key and
// basic apps are checked with the catalog's test request and saved.
func (h *Handler) submit(c echo.Context) error {
	sess, bid, err := h.session(c)
	if err != nil {
		return h.fail(c, err)
	}
	if err := h.checkCSRF(c, bid, sess.ID); err != nil {
		return h.fail(c, err)
	}
	if sess.Status != store.SessionPending {
		return h.result(c, sess, bid)
	}
	app, err := h.appFor(c, sess)
	if err != nil {
		return h.fail(c, err)
	}
	values := map[string]string{}
	for _, f := range app.Auth.Fields {
		if v := c.FormValue(f.Key); v != "" {
			values[f.Key] = v
		}
	}
	ctx := c.Request().Context()
	if app.Auth.Type == catalog.AuthOAuth2 {
		authURL, err := h.Connect.BeginOAuth(ctx, sess, app, values)
		if fe, ok := fault.As(err); ok && fe.Kind == fault.Invalid {
			return h.renderConsent(c, sess, bid, app, values, fe.Message, http.StatusBadRequest)
		}
		if err != nil {
			return h.fail(c, err)
		}
		return c.Redirect(http.StatusSeeOther, authURL)
	}
	done, err := h.Connect.SubmitCredentials(ctx, sess, app, values)
	if tf, ok := connect.AsTestFailure(err); ok {
		return h.renderCredentials(c, sess, bid, app, values, app.Name+" did not accept these credentials.", tf.Message, http.StatusUnprocessableEntity)
	}
	if fe, ok := fault.As(err); ok && (fe.Kind == fault.Invalid || fe.Kind == fault.Upstream) {
		return h.renderCredentials(c, sess, bid, app, values, fe.Message, "", http.StatusBadRequest)
	}
	if err != nil {
		return h.fail(c, err)
	}
	return c.Redirect(http.StatusSeeOther, h.resultURL(c, done.ID))
}

func (h *Handler) resultURL(c echo.Context, id string) string {
	u := "/popup/" + url.PathEscape(id)
	if c.QueryParam("mode") == "modal" {
		u += "?mode=modal"
	}
	return u
}

func (h *Handler) cancel(c echo.Context) error {
	sess, bid, err := h.session(c)
	if err != nil {
		return h.fail(c, err)
	}
	if err := h.checkCSRF(c, bid, sess.ID); err != nil {
		return h.fail(c, err)
	}
	if _, err := h.Connect.Cancel(c.Request().Context(), "", sess.ID); err != nil {
		return h.fail(c, err)
	}
	return c.Redirect(http.StatusSeeOther, h.resultURL(c, sess.ID))
}

func (h *Handler) detached(c echo.Context) error {
	sess, bid, err := h.session(c)
	if err != nil {
		return err
	}
	if err := h.checkCSRF(c, bid, sess.ID); err != nil {
		return err
	}
	if err := h.Connect.MarkDetached(c.Request().Context(), sess); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// status tells a modal consent page, waiting while the provider's sign-in runs in a popup window, whether
// the session has ended. Only the session's own browser may ask; the answer is the status alone.
func (h *Handler) status(c echo.Context) error {
	sess, _, err := h.session(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusOK, map[string]string{"status": sess.Status})
}

// callback is the one redirect URI: {HITCH_PUBLIC_URL}/oauth/callback.
func (h *Handler) callback(c echo.Context) error {
	bid, err := h.browser(c, false)
	if err != nil {
		return err
	}
	q := c.Request().URL.Query()
	if len(q["state"]) > 1 || len(q["code"]) > 1 || len(q["iss"]) > 1 {
		return h.fail(c, fault.New(fault.Invalid, "invalid_request", "The sign-in response repeats a parameter, so it was not accepted."))
	}
	sess, err := h.Connect.CompleteOAuth(c.Request().Context(), connect.Callback{
		State: q.Get("state"), Code: q.Get("code"), Iss: q.Get("iss"),
		Error: q.Get("error"), ErrorDescription: q.Get("error_description"),
		BrowserHash: browserHash(bid),
	})
	if err != nil {
		return h.fail(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/popup/"+url.PathEscape(sess.ID))
}

// Message is what the popup posts to the host page (the SDK's protocol).
type Message struct {
	Source     string              `json:"source"`
	Type       string              `json:"type"`
	SessionID  string              `json:"sessionId"`
	Status     string              `json:"status"`
	Connection *connect.Connection `json:"connection,omitempty"`
	Error      *connect.ErrorInfo  `json:"error,omitempty"`
}

// result is step 3: the outcome, handed to the opener by the page script.
func (h *Handler) result(c echo.Context, sess store.Session, bid string) error {
	msg := Message{Source: "hitch", Type: "hitch:result", SessionID: sess.ID, Status: sess.Status}
	p := popup.ResultPage{Page: h.page(c, sess, bid, "Connect an app"), Status: sess.Status, HostOrigin: sess.HostOrigin}
	if app, ok := h.Catalog.Get(sess.AppKey); ok {
		p.AppName, p.AppLogo = app.Name, app.Logo
	}
	out, err := h.Connect.Outcome(c.Request().Context(), sess)
	if err != nil {
		return h.fail(c, err)
	}
	switch sess.Status {
	case store.SessionCompleted:
		msg.Connection = out.Connection
		p.AutoClose = true
	case store.SessionCancelled:
		p.AutoClose = true
	default:
		msg.Error = out.Error
		p.Message = sess.ErrorMessage
		if sess.Status == store.SessionExpired {
			msg.Status = store.SessionFailed
			msg.Error.Code = "session_expired"
		}
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if sess.HostOrigin != "" {
		p.Payload = string(payload)
	}
	return h.render(c, http.StatusOK, popup.Result(p), "")
}

// fail renders a fault as a friendly page with its status; anything else is
// logged and shown as a generic error.
func (h *Handler) fail(c echo.Context, err error) error {
	status, env := middleware.Describe(err)
	if status >= 500 {
		h.Log.ErrorContext(c.Request().Context(), "popup request failed", "path", c.Path(), "error", err)
	}
	p := popup.ErrorPage{Page: popup.Page{Title: "Something went wrong", Nonce: middleware.Nonce(c), Workspace: h.Workspace}, Status: status, Message: env.Message}
	if status >= 500 {
		p.Hint = "Please try again in a moment."
	}
	return h.render(c, status, popup.Error(p), "")
}

// render writes a page with a strict CSP whose script nonce is this
// response's; formTarget adds a provider origin to form-action for the
// consent page, whose form redirects there.
func (h *Handler) render(c echo.Context, status int, page templ.Component, formTarget string) error {
	hdr := c.Response().Header()
	formAction := "'self'"
	if formTarget != "" {
		formAction += " " + formTarget
	}
	frame := "'none'"
	if c.QueryParam("mode") == "modal" {
		frame = h.frameAncestors()
	} else {
		hdr.Set("X-Frame-Options", "DENY")
	}
	hdr.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+middleware.Nonce(c)+"'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action "+formAction+"; frame-ancestors "+frame+"; base-uri 'none'")
	hdr.Set("Cross-Origin-Opener-Policy", "unsafe-none")
	hdr.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	hdr.Set(echo.HeaderCacheControl, "no-store")
	c.Response().WriteHeader(status)
	return page.Render(c.Request().Context(), c.Response())
}

func (h *Handler) frameAncestors() string {
	if h.AllowedOrigins == "" {
		return "'none'"
	}
	return h.AllowedOrigins
}

// providerOrigin is the origin of an app's authorization endpoint.
func (h *Handler) providerOrigin(app *catalog.App) string {
	raw := app.Auth.AuthorizeURL
	if h.Resolve != nil {
		raw = h.Resolve(raw)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || strings.Contains(u.Host, "{") {
		// Account-specific hosts ({subdomain}.example.com) are allowed by scheme.
		if u != nil && u.Scheme == "https" {
			return "https:"
		}
		return ""
	}
	return u.Scheme + "://" + u.Host
}
