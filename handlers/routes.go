// Package handlers assembles Hitch's HTTP surfaces (API, popup, console, demo)
// into one Echo router with the shared middleware.
package handlers

import (
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hitchdev/hitch/handlers/api"
	"github.com/hitchdev/hitch/handlers/middleware"
	"github.com/hitchdev/hitch/internal/auth"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/config"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/static"
)

// Deps is everything the HTTP surfaces need, built once by the caller.
type Deps struct {
	Config   *config.Config
	Store    *store.Store
	Catalog  *catalog.Catalog
	Keys     *secrets.KeyRing
	Issuer   *auth.Issuer
	Log      *slog.Logger
	Registry *prometheus.Registry // nil: a fresh one
	Now      func() time.Time     // nil: time.Now
}

// New builds the router.
func New(d Deps) *echo.Echo {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = middleware.ErrorHandler(d.Log)
	e.Server.ReadHeaderTimeout = 10 * time.Second

	metrics := middleware.NewMetrics(d.Registry)
	e.Pre(middleware.RequestID)
	e.Pre(middleware.CORS(d.Config.OriginAllowed))
	e.Use(middleware.Logger(d.Log))
	e.Use(metrics.Middleware)
	e.Use(echomw.RecoverWithConfig(echomw.RecoverConfig{DisableStackAll: true, LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
		d.Log.ErrorContext(c.Request().Context(), "panic", "error", err, "stack", string(stack))
		return err
	}}))
	e.Use(echomw.BodyLimit("1M"))
	e.Use(securityHeaders)

	connects := &connect.Service{Store: d.Store, Catalog: d.Catalog, Keys: d.Keys, Now: d.Now, Log: d.Log}
	authn := &middleware.Authenticator{Issuer: d.Issuer, Tenants: d.Store, Now: d.Now, Log: d.Log}
	(&api.Handler{Connect: connects, Catalog: d.Catalog, Store: d.Store, PublicURL: d.Config.URL("")}).Register(e, authn)

	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{})))
	mountStatic(e)
	return e
}

// securityHeaders are sent on every response; pages add their own CSP.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if h.Get(echo.HeaderCacheControl) == "" {
			h.Set(echo.HeaderCacheControl, "no-store")
		}
		return next(c)
	}
}


// mountStatic serves the embedded assets: /static/* and the SDK at the
// contract's paths /sdk/hitch.js and /sdk/hitch.mjs. Missing files and
// directories are the API's 404 envelope; there are no listings.
func mountStatic(e *echo.Echo) {
	serve := func(prefix string) echo.HandlerFunc {
		return func(c echo.Context) error {
			name := prefix + c.Param("*")
			if !fs.ValidPath(name) {
				return echo.ErrNotFound
			}
			fi, err := fs.Stat(static.FS, name)
			if err != nil || fi.IsDir() {
				return echo.ErrNotFound
			}
			h := c.Response().Header()
			// Assets change with the binary; a short cache keeps upgrades visible.
			h.Set(echo.HeaderCacheControl, "public, max-age=300")
			h.Set("Cross-Origin-Resource-Policy", "cross-origin")
			http.ServeFileFS(c.Response(), c.Request(), static.FS, name)
			return nil
		}
	}
	e.GET("/static/*", serve(""))
	e.GET("/sdk/*", serve("sdk/"))
}
