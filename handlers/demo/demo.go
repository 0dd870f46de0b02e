// Package demo serves the demo host page of `hitch serve --demo`: a host app
// that gets tenant tokens from its "backend" and uses the SDK as a customer
// would. It is never mounted without --demo.
package demo

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hitchdev/hitch/handlers/middleware"
	"github.com/hitchdev/hitch/internal/auth"
	"github.com/hitchdev/hitch/views/demo"
)

// Tenant is the demo host page's tenant.
const Tenant = "demo"

// Handler serves /demo and the token endpoint its page calls.
type Handler struct {
	Issuer   *auth.Issuer
	HitchURL string
}

// Register mounts the demo routes.
func (h *Handler) Register(e *echo.Echo) {
	e.GET("/demo", h.page)
	e.POST("/demo/token", h.token)
}

func (h *Handler) page(c echo.Context) error {
	nonce := middleware.Nonce(c)
	hdr := c.Response().Header()
	hdr.Set("Content-Security-Policy", "default-src 'none'; script-src 'self' 'nonce-"+nonce+"'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	hdr.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(http.StatusOK)
	return demo.Demo(demo.Page{Nonce: nonce, HitchURL: h.HitchURL}).Render(c.Request().Context(), c.Response())
}

// token plays the host's backend: it mints a short-lived token for the demo
// tenant. The JSON content type forces a CORS preflight, so other origins
// cannot read it.
func (h *Handler) token(c echo.Context) error {
	if c.Request().Header.Get(echo.HeaderContentType) != echo.MIMEApplicationJSON {
		return echo.ErrUnsupportedMediaType
	}
	tok, err := h.Issuer.Mint(auth.Principal{TenantKey: Tenant, TenantName: "Demo Inc."}, time.Hour)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"token": tok})
}
