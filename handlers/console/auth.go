package console

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/hitchdev/hitch/internal/admin"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
	views "github.com/hitchdev/hitch/views/console"
)

// Session cookie values.
const (
	keyCSRF   = "csrf" // per-browser CSRF token, rotated at sign-in
	keyAdmin  = "uid"  // signed-in admin's id
	keyIssued = "iat"  // sign-in time, unix microseconds
	adminKey  = "hitch.console.admin"
	sessKey   = "hitch.console.session"
)

// session returns this request's console session, a fresh one when the
// cookie is missing or does not verify (an old key, tampering, expiry).
func (h *Handler) session(c echo.Context) *sessions.Session {
	if s, ok := c.Get(sessKey).(*sessions.Session); ok {
		return s
	}
	s, err := h.Cookies.Get(c.Request(), cookieName)
	if err != nil {
		s = sessions.NewSession(h.Cookies, cookieName)
		opts := *h.Cookies.Options
		s.Options, s.IsNew = &opts, true
	}
	if tok, _ := s.Values[keyCSRF].(string); tok == "" {
		s.Values[keyCSRF] = secrets.NewToken()
		h.save(c, s)
	}
	c.Set(sessKey, s)
	return s
}

// save writes the session cookie; a failure only loses the cookie, which the
// next request recreates, so it is logged rather than failing the page.
func (h *Handler) save(c echo.Context, s *sessions.Session) {
	if err := s.Save(c.Request(), c.Response()); err != nil {
		h.Log.WarnContext(c.Request().Context(), "console session not saved", "error", err)
	}
}

// csrf refuses unsafe requests that are cross-origin (Sec-Fetch-Site/Origin,
// the standard library's check) or whose form token does not match this
// browser's session. Both: the header check stops forged posts from other
// sites, the token also stops same-site subdomains and old browsers.
func (h *Handler) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if err := h.origins.Check(r); err != nil {
			return fault.New(fault.Forbidden, "csrf_origin", "This form was sent from another site, so it was refused.")
		}
		want, _ := h.session(c).Values[keyCSRF].(string)
		got := c.FormValue("csrf")
		if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
			return fault.New(fault.Forbidden, "csrf_token", "This form has expired or was not sent from the console. Reload the page and try again.")
		}
		return next(c)
	}
}

// requireAdmin lets signed-in admins through. Everyone else is sent to the
// sign-in page (which returns them here afterwards); a sign-in older than
// the TTL or than the account's last password change no longer counts.
func (h *Handler) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess := h.session(c)
		id, _ := sess.Values[keyAdmin].(string)
		issued, _ := sess.Values[keyIssued].(int64)
		if id == "" {
			return h.toLogin(c, "")
		}
		now := h.Now()
		if now.Sub(time.UnixMicro(issued)) > h.TTL {
			h.signOut(c, sess)
			return h.toLogin(c, "expired")
		}
		ad, err := h.Accounts.Get(c.Request().Context(), id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && issued < ad.PasswordChangedAt.UnixMicro()) {
			h.signOut(c, sess)
			return h.toLogin(c, "expired")
		}
		if err != nil {
			return err
		}
		c.Set(adminKey, ad)
		return next(c)
	}
}

// toLogin sends the browser to sign in, remembering a GET page to return to.
func (h *Handler) toLogin(c echo.Context, reason string) error {
	q := url.Values{}
	if r := c.Request(); r.Method == http.MethodGet {
		q.Set("next", r.URL.RequestURI())
	}
	if reason != "" {
		q.Set("reason", reason)
	}
	return redirect(c, views.WithQuery("/console/login", q))
}

// safeNext keeps the post-sign-in redirect inside the console.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil ||
		!(u.Path == "/console" || strings.HasPrefix(u.Path, "/console/")) || strings.HasPrefix(u.Path, "/console/login") ||
		strings.ContainsAny(next, "\\\r\n") || strings.HasPrefix(next, "//") {
		return "/console"
	}
	return u.RequestURI()
}

func (h *Handler) loginForm(c echo.Context) error {
	sess := h.session(c)
	if id, _ := sess.Values[keyAdmin].(string); id != "" {
		if issued, _ := sess.Values[keyIssued].(int64); h.Now().Sub(time.UnixMicro(issued)) <= h.TTL {
			return redirect(c, safeNext(c.QueryParam("next")))
		}
	}
	p := views.LoginPage{Page: h.page(c, "Sign in", ""), Next: safeNext(c.QueryParam("next"))}
	switch c.QueryParam("reason") {
	case "expired":
		p.Notice = "Your session has expired. Sign in again to continue."
	case "signed_out":
		p.Notice = "You have signed out."
	}
	return h.render(c, http.StatusOK, views.Login(p))
}

func (h *Handler) login(c echo.Context) error {
	form, err := formValues(c)
	if err != nil {
		return err
	}
	email, password := strings.TrimSpace(form.Get("email")), form.Get("password")
	p := views.LoginPage{Page: h.page(c, "Sign in", ""), Email: email, Next: safeNext(form.Get("next"))}
	if len(email) > 254 {
		email = email[:254]
	}
	// Two budgets: one per client address (one attacker, many accounts) and
	// one per account (many addresses, one account).
	okIP, _ := h.limiter.Allow("ip:" + c.RealIP())
	okUser, _ := h.limiter.Allow("email:" + strings.ToLower(email))
	if !okIP || !okUser {
		c.Response().Header().Set("Retry-After", "60")
		p.Error = "Too many sign-in attempts. Wait a minute, then try again."
		return h.render(c, http.StatusTooManyRequests, views.Login(p))
	}
	ad, err := h.Accounts.Authenticate(c.Request().Context(), email, password)
	if errors.Is(err, admin.ErrBadLogin) {
		h.Log.InfoContext(c.Request().Context(), "console sign-in refused", "ip", c.RealIP())
		p.Error = "That email and password do not match an account."
		return h.render(c, http.StatusUnauthorized, views.Login(p))
	}
	if err != nil {
		return err
	}
	sess := h.session(c)
	sess.Values[keyAdmin] = ad.ID
	sess.Values[keyIssued] = h.Now().UnixMicro()
	sess.Values[keyCSRF] = secrets.NewToken() // a token seen before sign-in is not trusted after it
	h.save(c, sess)
	h.Log.InfoContext(c.Request().Context(), "console sign-in", "admin", ad.ID)
	return redirect(c, p.Next)
}

func (h *Handler) logout(c echo.Context) error {
	h.signOut(c, h.session(c))
	return redirect(c, "/console/login?reason=signed_out")
}

// signOut forgets the admin and starts a new CSRF token.
func (h *Handler) signOut(c echo.Context, sess *sessions.Session) {
	delete(sess.Values, keyAdmin)
	delete(sess.Values, keyIssued)
	sess.Values[keyCSRF] = secrets.NewToken()
	h.save(c, sess)
}
