package middleware

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// CORS answers cross-origin requests, preflight included, for exactly the
// allowed host origins. Other origins get no CORS headers, so browsers
// refuse to hand them the response.
func CORS(allowed func(origin string) bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req, h := c.Request(), c.Response().Header()
			origin := req.Header.Get(echo.HeaderOrigin)
			h.Add(echo.HeaderVary, echo.HeaderOrigin)
			if origin == "" || !allowed(origin) {
				if req.Method == http.MethodOptions && req.Header.Get(echo.HeaderAccessControlRequestMethod) != "" {
					return c.NoContent(http.StatusForbidden)
				}
				return next(c)
			}
			h.Set(echo.HeaderAccessControlAllowOrigin, origin)
			h.Set(echo.HeaderAccessControlExposeHeaders, "X-Request-Id, ETag")
			if req.Method == http.MethodOptions && req.Header.Get(echo.HeaderAccessControlRequestMethod) != "" {
				h.Add(echo.HeaderVary, echo.HeaderAccessControlRequestMethod)
				h.Add(echo.HeaderVary, echo.HeaderAccessControlRequestHeaders)
				h.Set(echo.HeaderAccessControlAllowMethods, "GET, POST, DELETE, OPTIONS")
				h.Set(echo.HeaderAccessControlAllowHeaders, allowHeaders(req.Header.Get(echo.HeaderAccessControlRequestHeaders)))
				h.Set(echo.HeaderAccessControlMaxAge, "600")
				return c.NoContent(http.StatusNoContent)
			}
			return next(c)
		}
	}
}

// allowHeaders grants the headers the API reads, and nothing else.
func allowHeaders(requested string) string {
	var out []string
	for _, name := range strings.Split(requested, ",") {
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "authorization":
			out = append(out, "Authorization")
		case "content-type":
			out = append(out, "Content-Type")
		case "if-none-match":
			out = append(out, "If-None-Match") // conditional list reads (ETag)
		}
	}
	if len(out) == 0 {
		return "Authorization, Content-Type"
	}
	return strings.Join(out, ", ")
}
