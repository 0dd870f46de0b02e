// Package handlers assembles Hitch's HTTP surfaces (API, popup, console, demo)
// into one Echo router with the shared middleware.
package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hitchdev/hitch/handlers/api"
	"github.com/hitchdev/hitch/handlers/console"
	"github.com/hitchdev/hitch/handlers/demo"
	"github.com/hitchdev/hitch/handlers/middleware"
	"github.com/hitchdev/hitch/handlers/popup"
	"github.com/hitchdev/hitch/internal/admin"
	"github.com/hitchdev/hitch/internal/appsettings"
	"github.com/hitchdev/hitch/internal/auth"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/config"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/mcpserver"
	"github.com/hitchdev/hitch/internal/oauth"
	"github.com/hitchdev/hitch/internal/sandbox"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/webhook"
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
	Sandbox  *sandbox.Server      // nil: built from Config when Config.Sandbox
	// BcryptCost is the console's password hashing cost; 0 means bcrypt's default. Tests lower it.
	BcryptCost int
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

	resolve := func(u string) string {
		// Sandbox apps name their endpoints as paths on this server.
		if strings.HasPrefix(u, "/") {
			return d.Config.URL(u)
		}
		return u
	}
	outbound := &http.Client{
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	apps := &appsettings.Service{Store: d.Store, Catalog: d.Catalog, Keys: d.Keys, Now: d.Now}
	connects := &connect.Service{
		Store: d.Store, Catalog: d.Catalog, Apps: apps, Keys: d.Keys, Now: d.Now, Log: d.Log, Resolve: resolve,
		OAuth:  &oauth.Client{HTTP: outbound, RedirectURL: d.Config.URL("/oauth/callback"), Resolve: resolve},
		Tester: &connect.Tester{HTTP: outbound, Resolve: resolve},
	}
	authn := &middleware.Authenticator{Issuer: d.Issuer, Tenants: d.Store, Now: d.Now, Log: d.Log}
	hooks := webhook.NewService(webhook.Options{Store: d.Store, Keys: d.Keys, Now: d.Now, Log: d.Log})
	listCache := d.Config.ListCache
	if listCache == 0 {
		listCache = config.DefaultListCache
	}
	lister := connect.NewLister(d.Store, listCache)
	registerListerMetrics(d.Registry, lister)
	(&api.Handler{
		Lister:  lister,
		Connect: connects, Apps: apps, Catalog: d.Catalog, Store: d.Store, PublicURL: d.Config.URL(""), PublicOrigin: d.Config.PublicOrigin(),
		OriginAllowed: d.Config.OriginAllowed,
		Webhooks:      hooks,
	}).Register(e, authn)
	// MCP over streamable HTTP (spec section 11). Its tools call this router
	// in-process with the caller's token, so the API's tenant scoping holds.
	e.Match([]string{http.MethodGet, http.MethodPost, http.MethodDelete}, "/mcp",
		echo.WrapHandler(mcpserver.NewHandler(e, mcpserver.Options{Logger: d.Log})), authn.Require)

	secure := d.Config.PublicURL.Scheme == "https"
	(&popup.Handler{
		Connect: connects, Apps: apps, Catalog: d.Catalog, Resolve: resolve, Log: d.Log,
		Cookies:        popup.NewCookieStore(derive(d.Config.WorkspaceSecret, "popup cookie mac"), derive(d.Config.WorkspaceSecret, "popup cookie enc")[:32], secure),
		CSRFKey:        derive(d.Config.WorkspaceSecret, "popup csrf"),
		Workspace:      d.Config.WorkspaceName,
		AllowedOrigins: strings.Join(d.Config.AllowedOrigins, " "),
	}).Register(e)

	consoleTTL := d.Config.ConsoleTTL
	if consoleTTL <= 0 {
		consoleTTL = config.DefaultConsoleTTL // a Config built by hand, not by Load
	}
	(&console.Handler{
		Accounts: &admin.Accounts{Store: d.Store, Now: d.Now, Cost: d.BcryptCost},
		Store:    d.Store, Connect: connects, Apps: apps, Catalog: d.Catalog, Webhooks: hooks,
		Cookies: console.NewCookieStore(derive(d.Config.WorkspaceSecret, "console cookie mac"),
			derive(d.Config.WorkspaceSecret, "console cookie enc")[:32], consoleTTL, secure),
		TTL: consoleTTL, Now: d.Now, Log: d.Log, Workspace: d.Config.WorkspaceName,
		RedirectURI: d.Config.URL("/oauth/callback"), PublicURL: d.Config.URL(""),
	}).Register(e)

	if d.Config.Sandbox {
		mountSandbox(e, d)
	}
	if d.Config.Demo {
		(&demo.Handler{Issuer: d.Issuer, HitchURL: d.Config.URL("")}).Register(e)
	}

	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{})))
	mountStatic(e)
	return e
}

// mountSandbox serves the sandbox provider (spec section 14): a real OAuth
// 2.0 server at /sandbox/oauth and the API-key app's test endpoint at
// /sandbox/api. Only with --demo or HITCH_SANDBOX=true.
func mountSandbox(e *echo.Echo, d Deps) {
	srv := d.Sandbox
	if srv == nil {
		srv = NewSandbox(d.Config, d.Log)
	}
	e.Any("/sandbox/oauth/*", echo.WrapHandler(http.StripPrefix("/sandbox/oauth", srv)))
	e.Any("/sandbox/api/*", echo.WrapHandler(http.StripPrefix("/sandbox/api", srv.APIKeyHandler())))
}

// NewSandbox builds the sandbox provider for this server's public URL. Its
// client matches the catalog's sandbox-oauth entry.
func NewSandbox(cfg *config.Config, log *slog.Logger) *sandbox.Server {
	return sandbox.New(sandbox.Options{
		Issuer: cfg.URL("/sandbox/oauth"),
		Clients: map[string]sandbox.Client{
			"hitch-sandbox": {Name: "Hitch demo", Secret: "hitch-sandbox-secret", RedirectURIs: []string{cfg.URL("/oauth/callback")}, AuthMethod: sandbox.AuthBasic},
		},
		AccessTokenTTL: 10 * time.Minute,
		Logger:         log,
	})
}

// derive gives each use of the workspace secret its own key.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("hitch/" + purpose))
	return m.Sum(nil)
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

// registerListerMetrics exports how list pages were served, so an operator can see the cache earn its
// memory (hits) or not (misses: lists that change between reads).
func registerListerMetrics(reg prometheus.Registerer, l *connect.Lister) {
	served := func(result string, read func(connect.ListerStats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "hitch_list_pages_total", Help: "Connection list pages served, by how: hit (cached page, unchanged list), miss (rendered and cached), shared (waited for a concurrent miss of the same page), uncached (rendered, cache off or all tenants).",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 { return float64(read(l.Stats())) })
	}
	reg.MustRegister(
		served("hit", func(s connect.ListerStats) int64 { return s.Hits }),
		served("miss", func(s connect.ListerStats) int64 { return s.Misses }),
		served("shared", func(s connect.ListerStats) int64 { return s.Shared }),
		served("uncached", func(s connect.ListerStats) int64 { return s.Uncached }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hitch_list_cache_bytes", Help: "Bytes of rendered list pages cached in this process."},
			func() float64 { return float64(l.Stats().Bytes) }),
	)
}
