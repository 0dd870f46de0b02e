// Package console serves the admin console at /console: sign-in, the
// dashboard and the Connections, Apps, Webhooks and Tenants pages. Pages are
// templ components from views/console; the rules they apply live in
// internal/ (connect, appsettings, webhook, admin), the SQL in the store.
package console

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/hitchdev/hitch/handlers/middleware"
	"github.com/hitchdev/hitch/internal/admin"
	"github.com/hitchdev/hitch/internal/appsettings"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/webhook"
	views "github.com/hitchdev/hitch/views/console"
)

// Handler serves the console.
type Handler struct {
	Accounts *admin.Accounts
	Store    *store.Store
	Connect  *connect.Service
	Apps     *appsettings.Service
	Catalog  *catalog.Catalog
	Webhooks *webhook.Service
	Cookies  *sessions.CookieStore // from NewCookieStore
	TTL      time.Duration         // how long a sign-in lasts
	Now      func() time.Time
	Log      *slog.Logger
	// Workspace is the host product's name shown in the shell.
	Workspace string
	// RedirectURI is the OAuth callback URL admins register with providers.
	RedirectURI string
	// PublicURL makes connect links absolute.
	PublicURL string
	// LoginLimit and LoginBurst bound sign-in attempts per client address and
	// per email; zero means the defaults (one every 6 s, bursts of 10).
	LoginLimit rate.Limit
	LoginBurst int

	limiter    *echomw.RateLimiterMemoryStore
	origins    *http.CrossOriginProtection
	aggregates aggregateCache // the dashboard's slow figures, briefly reused
}

// cookieName is the console's session cookie, scoped to /console so the API
// and the popup never receive it.
const cookieName = "hitch_console"

// NewCookieStore returns the console's session store: values are
// authenticated (hashKey) and encrypted (blockKey), the cookie is HttpOnly,
// SameSite=Lax and Secure on https. The cookie outlives the sign-in by
// cookieGrace so that an expired sign-in can be told apart from none and
// the sign-in page can say so; the sign-in's own lifetime is checked on
// every request from the time stored inside.
func NewCookieStore(hashKey, blockKey []byte, ttl time.Duration, secure bool) *sessions.CookieStore {
	maxAge := int((ttl + cookieGrace).Seconds())
	cs := sessions.NewCookieStore(hashKey, blockKey)
	cs.Options = &sessions.Options{Path: "/console", MaxAge: maxAge, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
	cs.MaxAge(maxAge) // also bounds the signed timestamp inside the value
	return cs
}

// cookieGrace is how long the cookie outlives the longest sign-in.
const cookieGrace = 12 * time.Hour

// Register mounts the console under /console.
func (h *Handler) Register(e *echo.Echo) {
	if h.Now == nil {
		h.Now = time.Now
	}
	limit, burst := h.LoginLimit, h.LoginBurst
	if limit == 0 {
		limit, burst = rate.Every(6*time.Second), 10
	}
	h.limiter = echomw.NewRateLimiterMemoryStoreWithConfig(echomw.RateLimiterMemoryStoreConfig{Rate: limit, Burst: burst, ExpiresIn: 30 * time.Minute})
	h.origins = http.NewCrossOriginProtection()
	// Behind a proxy that rewrites Host, a browser without Sec-Fetch-Site is judged by Origin against Host;
	// Hitch's public origin is always same-site with itself.
	if u, err := url.Parse(h.PublicURL); err == nil && u.Host != "" {
		if err := h.origins.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			h.Log.Warn("console: public URL not trusted for CSRF origin checks", "error", err)
		}
	}

	g := e.Group("/console", h.pages, h.csrf)
	g.GET("/login", h.loginForm)
	g.POST("/login", h.login)
	g.POST("/logout", h.logout)

	in := g.Group("", h.requireAdmin)
	h.registerDashboard(in)
	h.registerConnections(in)
	h.registerApps(in)
	h.registerWebhooks(in)
	h.registerTenants(in)
	g.RouteNotFound("/*", func(c echo.Context) error {
		return fault.New(fault.NotFound, "page_not_found", "There is no console page at this address.")
	})
	e.GET("/console/", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/console") })
}

// pages turns every error a console handler returns into a friendly page.
func (h *Handler) pages(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err == nil || c.Response().Committed {
			return err
		}
		return h.errorPage(c, err)
	}
}

// errorPage renders err as a page with the status the API would use.
func (h *Handler) errorPage(c echo.Context, err error) error {
	status, env := middleware.Describe(err)
	if status >= 500 {
		h.Log.ErrorContext(c.Request().Context(), "console request failed", "method", c.Request().Method, "path", c.Path(), "error", err)
	}
	heading := "Something went wrong"
	switch status {
	case http.StatusNotFound:
		heading = "Not found"
	case http.StatusForbidden:
		heading = "Not allowed"
	case http.StatusConflict:
		heading = "That cannot be done now"
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
		heading = "That did not work"
	case http.StatusMethodNotAllowed:
		heading = "Not available"
	}
	msg := env.Message
	if status >= 500 {
		msg = "The console could not finish this request. It has been logged; try again in a moment."
	}
	p := views.ErrorPage{Page: h.page(c, heading, ""), Status: status, Heading: heading, Message: msg, BackURL: backURL(c)}
	return h.render(c, status, views.Error(p))
}

// backURL is the page the browser came from when it is a console page.
func backURL(c echo.Context) string {
	if c.Request().Method != http.MethodGet {
		if p := c.Request().URL.Path; strings.HasPrefix(p, "/console/") {
			return p
		}
	}
	return ""
}

// render writes a page with a strict CSP whose script nonce is this response's.
func (h *Handler) render(c echo.Context, status int, page templ.Component) error {
	hdr := c.Response().Header()
	hdr.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+middleware.Nonce(c)+"'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	hdr.Set(echo.HeaderCacheControl, "no-store")
	c.Response().WriteHeader(status)
	return page.Render(c.Request().Context(), c.Response())
}

// page fills the shell's model for this request: the signed-in admin, the
// CSRF token and any flashes (which are consumed).
func (h *Handler) page(c echo.Context, title, section string) views.Page {
	p := views.Page{Title: title, Section: section, Nonce: middleware.Nonce(c), Workspace: h.Workspace, Now: h.Now().UTC()}
	if ad, ok := c.Get(adminKey).(store.Admin); ok {
		p.AdminEmail = ad.Email
	}
	sess := h.session(c)
	p.CSRF, _ = sess.Values[keyCSRF].(string)
	if fl := sess.Flashes(); len(fl) > 0 {
		for _, f := range fl {
			if s, ok := f.(string); ok {
				p.Flashes = append(p.Flashes, decodeFlash(s))
			}
		}
		h.save(c, sess)
	}
	return p
}

// flash queues a message for the next page this browser sees.
func (h *Handler) flash(c echo.Context, f views.Flash) {
	sess := h.session(c)
	sess.AddFlash(encodeFlash(f))
	h.save(c, sess)
}

// Flashes travel as URL-encoded strings: gob needs no registered types, and
// the cookie stays small.
func encodeFlash(f views.Flash) string {
	return url.Values{"k": {f.Kind}, "t": {f.Text}, "s": {f.Secret}, "l": {f.SecretLabel}}.Encode()
}

func decodeFlash(s string) views.Flash {
	v, _ := url.ParseQuery(s)
	return views.Flash{Kind: v.Get("k"), Text: v.Get("t"), Secret: v.Get("s"), SecretLabel: v.Get("l")}
}

// redirect answers a form post with 303 See Other, so a reload does not post again.
func redirect(c echo.Context, to string) error {
	return c.Redirect(http.StatusSeeOther, to)
}

// formValues parses a posted form, turning a body that is not a form into a 400.
func formValues(c echo.Context) (url.Values, error) {
	v, err := c.FormParams()
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return nil, err
		}
		return nil, fault.New(fault.Invalid, "bad_form", "The form could not be read.")
	}
	return v, nil
}
