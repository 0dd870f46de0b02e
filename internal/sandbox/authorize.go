package sandbox

import (
	"bytes"
	"crypto/subtle"
	"html/template"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// handleAuthorize validates an authorization request (RFC 6749 4.1.1) and
// shows the consent page.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.AuthorizeCalls++
	s.mu.Unlock()

	q := r.URL.Query()
	// Problems with client_id or redirect_uri must never redirect
	// (RFC 6749 4.1.2.1): the redirect target is not trustworthy yet.
	if len(q["client_id"]) != 1 {
		s.errorPage(w, http.StatusBadRequest, "The request must name exactly one client_id.")
		return
	}
	clientID := q.Get("client_id")
	client, ok := s.clients[clientID]
	if !ok {
		s.errorPage(w, http.StatusBadRequest, "The client is not registered with this server.")
		return
	}
	redirect, given := q.Get("redirect_uri"), q.Has("redirect_uri")
	switch {
	case len(q["redirect_uri"]) > 1:
		s.errorPage(w, http.StatusBadRequest, "The request repeats the redirect_uri parameter.")
		return
	case given && !slices.Contains(client.RedirectURIs, redirect):
		s.errorPage(w, http.StatusBadRequest, "The redirect URI does not exactly match one registered for this client.")
		return
	case !given && len(client.RedirectURIs) != 1:
		s.errorPage(w, http.StatusBadRequest, "The request has no redirect_uri and the client has several registered.")
		return
	case !given:
		redirect = client.RedirectURIs[0]
	}

	state := q.Get("state")
	fail := func(code, desc string) {
		s.redirectResult(w, r, redirect, http.StatusFound, url.Values{
			"error": {code}, "error_description": {desc}, "state": {state},
		})
	}
	for _, v := range q {
		if len(v) > 1 {
			fail("invalid_request", "A parameter is repeated.")
			return
		}
	}
	switch rt := q.Get("response_type"); rt {
	case "":
		fail("invalid_request", "The response_type parameter is missing.")
		return
	case "code":
	default:
		fail("unsupported_response_type", "Only the code response type is supported.")
		return
	}
	scopes, ok := parseScope(q.Get("scope"))
	if !ok {
		fail("invalid_scope", "The scope parameter is malformed.")
		return
	}
	if slices.Contains(scopes, "forbidden") {
		fail("invalid_scope", "The scope forbidden cannot be granted.")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge == "" {
		if method != "" {
			fail("invalid_request", "code_challenge_method was sent without code_challenge.")
			return
		}
		if !s.pkceOptional || client.AuthMethod == AuthNone {
			fail("invalid_request", "PKCE is required: send code_challenge with code_challenge_method S256.")
			return
		}
	} else {
		// An absent method means plain (RFC 7636 4.3), which is refused.
		if method != "S256" {
			fail("invalid_request", "Only the S256 code_challenge_method is supported.")
			return
		}
		if !validS256Challenge(challenge) {
			fail("invalid_request", "The code_challenge is not a base64url SHA-256 value.")
			return
		}
	}

	browser := ""
	if c, err := r.Cookie(browserCookie); err == nil && validToken(c.Value) {
		browser = c.Value
	} else {
		browser = newToken()
	}
	p := &pendingRequest{
		clientID:      clientID,
		redirectURI:   redirect,
		redirectGiven: given,
		scope:         strings.Join(scopes, " "),
		state:         state,
		challenge:     challenge,
		browser:       browser,
		csrf:          newToken(),
		expires:       s.now().Add(pendingTTL),
	}
	id := newToken()
	s.mu.Lock()
	s.sweepLocked()
	full := len(s.pending) >= maxPending
	if !full {
		s.pending[id] = p
	}
	s.mu.Unlock()
	if full {
		s.errorPage(w, http.StatusServiceUnavailable, "Too many authorization requests are waiting. Try again later.")
		return
	}

	http.SetCookie(w, &http.Cookie{
		Name:     browserCookie,
		Value:    browser,
		Path:     requestPath(r),
		MaxAge:   int(pendingTTL.Seconds()),
		HttpOnly: true,
		Secure:   s.secureCookie,
		SameSite: http.SameSiteLaxMode,
	})
	s.render(w, http.StatusOK, consentTmpl, formAction(redirect), consentData{
		ClientName:   client.Name,
		Scopes:       scopes,
		RedirectHost: redirectHost(redirect),
		RequestID:    id,
		CSRF:         p.csrf,
	})
}

// handleDecision handles the Approve/Deny form posted from the consent page.
func (s *Server) handleDecision(w http.ResponseWriter, r *http.Request) {
	if err := s.csrf.Check(r); err != nil {
		s.errorPage(w, http.StatusForbidden, "The consent form was posted from another site.")
		return
	}
	form, oerr := readForm(w, r)
	if oerr != nil {
		s.errorPage(w, http.StatusBadRequest, "The consent form is malformed.")
		return
	}
	decision := form.Get("decision")
	if decision != "approve" && decision != "deny" {
		s.errorPage(w, http.StatusBadRequest, "The consent form carries no decision.")
		return
	}
	browser := ""
	if c, err := r.Cookie(browserCookie); err == nil {
		browser = c.Value
	}

	s.mu.Lock()
	id := form.Get("request_id")
	p, ok := s.pending[id]
	if ok && !s.now().Before(p.expires) {
		delete(s.pending, id)
		ok = false
	}
	if !ok {
		s.mu.Unlock()
		s.errorPage(w, http.StatusBadRequest, "This authorization request has expired or was already answered. Start again from the app.")
		return
	}
	// The CSRF token must match the one rendered for this request, and the
	// post must come from the browser that received it.
	if subtle.ConstantTimeCompare([]byte(form.Get("csrf_token")), []byte(p.csrf)) != 1 ||
		subtle.ConstantTimeCompare([]byte(browser), []byte(p.browser)) != 1 {
		s.mu.Unlock()
		s.errorPage(w, http.StatusForbidden, "The consent form could not be verified. Start again from the app.")
		return
	}
	delete(s.pending, id)
	if decision == "deny" {
		s.stats.Denials++
		s.mu.Unlock()
		s.redirectResult(w, r, p.redirectURI, http.StatusSeeOther, url.Values{
			"error":             {"access_denied"},
			"error_description": {"The user denied the request."},
			"state":             {p.state},
		})
		return
	}
	code := newToken()
	s.codes[hashToken(code)] = &authCode{
		clientID:      p.clientID,
		redirectURI:   p.redirectURI,
		redirectGiven: p.redirectGiven,
		scope:         p.scope,
		challenge:     p.challenge,
		expires:       s.now().Add(codeTTL),
	}
	s.stats.Approvals++
	s.mu.Unlock()
	s.redirectResult(w, r, p.redirectURI, http.StatusSeeOther, url.Values{"code": {code}, "state": {p.state}})
}

// redirectResult sends an authorization response to the client, keeping any
// query the registered redirect URI already has (RFC 6749 3.1.2).
func (s *Server) redirectResult(w http.ResponseWriter, r *http.Request, redirect string, status int, params url.Values) {
	if params.Get("state") == "" {
		params.Del("state")
	}
	if s.sendIss {
		params.Set("iss", s.issuer)
	}
	u, err := url.Parse(redirect)
	if err != nil {
		s.errorPage(w, http.StatusInternalServerError, "The redirect URI cannot be used.")
		return
	}
	if u.RawQuery == "" {
		u.RawQuery = params.Encode()
	} else {
		u.RawQuery += "&" + params.Encode()
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.String(), status)
}

// readForm parses an application/x-www-form-urlencoded body and refuses
// repeated parameters (RFC 6749 3.1, 3.2).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, errInvalidRequest("The body must be application/x-www-form-urlencoded.")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, errInvalidRequest("The body cannot be parsed.")
	}
	for _, v := range r.PostForm {
		if len(v) > 1 {
			return nil, errInvalidRequest("A parameter is repeated.")
		}
	}
	return r.PostForm, nil
}

// parseScope splits a scope parameter into distinct scope-tokens
// (RFC 6749 3.3).
func parseScope(raw string) ([]string, bool) {
	var out []string
	for _, tok := range strings.Fields(raw) {
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
				return nil, false
			}
		}
		if !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out, true
}

func validS256Challenge(c string) bool {
	return len(c) == 43 && isBase64URL(c)
}

// validVerifier checks RFC 7636 4.1: 43-128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isAlnum(c) && c != '-' && c != '.' && c != '_' && c != '~' {
			return false
		}
	}
	return true
}

func validToken(t string) bool { return len(t) == 43 && isBase64URL(t) }

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// requestPath is the path the browser used, before any StripPrefix, so the
// consent cookie reaches the form post wherever the server is mounted.
func requestPath(r *http.Request) string {
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		return u.Path
	}
	return "/"
}

func redirectHost(redirect string) string {
	u, err := url.Parse(redirect)
	if err != nil {
		return ""
	}
	if u.Host == "" {
		return u.Scheme + ":"
	}
	return u.Host
}

// formAction is the CSP form-action source for the consent form: the form
// posts to this server, which then redirects to the client, and browsers
// check that redirect against form-action too.
func formAction(redirect string) string {
	src := "'self'"
	u, err := url.Parse(redirect)
	if err != nil {
		return src
	}
	if u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") {
		return src + " " + u.Scheme + "://" + u.Host
	}
	return src + " " + u.Scheme + ":"
}

type consentData struct {
	Nonce        string
	ClientName   string
	Scopes       []string
	RedirectHost string
	RequestID    string
	CSRF         string
}

type errorData struct {
	Nonce   string
	Message string
}

// render writes a page with a strict CSP whose only allowance is the inline
// style carrying this response's nonce.
func (s *Server) render(w http.ResponseWriter, status int, t *template.Template, formSrc string, data any) {
	nonce := newToken()
	switch d := data.(type) {
	case consentData:
		d.Nonce = nonce
		data = d
	case errorData:
		d.Nonce = nonce
		data = d
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		s.log.Error("sandbox: render page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; form-action "+formSrc+
		"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) errorPage(w http.ResponseWriter, status int, msg string) {
	s.render(w, status, errorTmpl, "'none'", errorData{Message: msg})
}

const pageStyle = `
body{margin:0;background:#f3f4f6;color:#111827;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif}
main{max-width:28rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.12)}
@media (max-width:30rem){main{margin:0;border-radius:0;box-shadow:none;min-height:100vh}}
.badge{display:inline-block;margin:0 0 .5rem;padding:.1rem .5rem;border-radius:999px;background:#fef3c7;color:#92400e;font-size:.8rem}
h1{font-size:1.25rem;margin:.25rem 0 1rem}
h2{font-size:1rem;margin:1rem 0 .25rem}
ul{margin:0;padding-left:1.25rem}
code{font-family:ui-monospace,monospace;font-size:.9em}
.muted{color:#4b5563;font-size:.9rem}
.actions{display:flex;gap:.75rem;margin-top:1.5rem}
button{flex:1;padding:.7rem;border-radius:8px;font:inherit;font-weight:600;cursor:pointer}
button:focus-visible{outline:3px solid #2563eb;outline-offset:2px}
.approve{background:#2563eb;border:1px solid #2563eb;color:#fff}
.deny{background:#fff;border:1px solid #9ca3af;color:#111827}
`

var consentTmpl = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Authorize {{.ClientName}} - Sandbox</title>
<style nonce="{{.Nonce}}">` + pageStyle + `</style>
</head>
<body>
<main>
<p class="badge">Sandbox OAuth provider</p>
<h1><strong>{{.ClientName}}</strong> wants to access your Sandbox account</h1>
<p>Signed in as <strong>` + subjectName + `</strong>.</p>
{{if .Scopes}}<h2>It asks for</h2>
<ul>{{range .Scopes}}<li><code>{{.}}</code></li>{{end}}</ul>
{{else}}<p>It asks for no particular scope.</p>{{end}}
<p class="muted">You will be sent back to <code>{{.RedirectHost}}</code>.</p>
<form method="post" action="authorize">
<input type="hidden" name="request_id" value="{{.RequestID}}">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<div class="actions">
<button type="submit" name="decision" value="deny" class="deny">Deny</button>
<button type="submit" name="decision" value="approve" class="approve">Approve</button>
</div>
</form>
</main>
</body>
</html>
`))

var errorTmpl = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Authorization error - Sandbox</title>
<style nonce="{{.Nonce}}">` + pageStyle + `</style>
</head>
<body>
<main>
<p class="badge">Sandbox OAuth provider</p>
<h1>This authorization request cannot continue</h1>
<p>{{.Message}}</p>
</main>
</body>
</html>
`))
