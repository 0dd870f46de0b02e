package catalog

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

var (
	appKeyRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	fieldKeyRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)
	domainRe   = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	headerRe   = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
	// placeholderRe is a {field} reference in a URL or header template.
	placeholderRe = regexp.MustCompile(`\{([A-Za-z][A-Za-z0-9_]{0,62})\}`)
	envRe         = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

// reservedAuthParams are set by the OAuth flow itself; a catalog entry must not override them.
var reservedAuthParams = map[string]bool{
	"client_id": true, "client_secret": true, "redirect_uri": true, "state": true, "response_type": true,
	"scope": true, "code_challenge": true, "code_challenge_method": true, "code": true, "code_verifier": true,
}

// resolveCredentials expands ${ENV} in the entry's client credentials, then
// falls back to HITCH_APP_<KEY>_CLIENT_ID/_SECRET for whatever is still empty.
func resolveCredentials(a *App, getenv func(string) string) {
	expand := func(s string) string {
		return envRe.ReplaceAllStringFunc(s, func(m string) string {
			return getenv(m[2 : len(m)-1])
		})
	}
	a.Auth.ClientID = strings.TrimSpace(expand(a.Auth.ClientID))
	a.Auth.ClientSecret = strings.TrimSpace(expand(a.Auth.ClientSecret))
	prefix := "HITCH_APP_" + strings.ToUpper(strings.ReplaceAll(a.Key, "-", "_"))
	if a.Auth.ClientID == "" {
		a.Auth.ClientID = strings.TrimSpace(getenv(prefix + "_CLIENT_ID"))
	}
	if a.Auth.ClientSecret == "" {
		a.Auth.ClientSecret = strings.TrimSpace(getenv(prefix + "_CLIENT_SECRET"))
	}
}

// validateApp checks one merged entry, fills its defaults and compiles its
// field patterns. It returns every problem found, each located by src.
func validateApp(a *App, src *source) []error {
	if src.pos == nil {
		src.pos = map[string]srcPos{}
	}
	v := &validator{src: src}
	if !appKeyRe.MatchString(a.Key) {
		v.fail("key", "must match %s", appKeyRe)
	}
	if strings.TrimSpace(a.Name) == "" {
		v.fail("name", "must not be empty")
	}
	if len(a.Categories) == 0 {
		v.fail("categories", "must list at least one category")
	}
	seenCat := map[string]bool{}
	for i, c := range a.Categories {
		p := fmt.Sprintf("categories[%d]", i)
		switch {
		case categoryIndex(c) < 0:
			v.fail(p, "unknown category %q (known: %s)", c, strings.Join(CategoryKeys(), ", "))
		case seenCat[c]:
			v.fail(p, "duplicate category %q", c)
		}
		seenCat[c] = true
	}
	for i, al := range a.Aliases {
		if strings.TrimSpace(al) == "" || len(al) > 100 {
			v.fail(fmt.Sprintf("aliases[%d]", i), "must be 1-100 characters")
		}
	}
	for i, d := range a.Domains {
		if !domainRe.MatchString(d) || len(d) > 253 {
			v.fail(fmt.Sprintf("domains[%d]", i), "must be a lower-case host name like example.com")
		}
	}
	if a.Logo != "" && !isSitePath(a.Logo) && checkURL(a.Logo, false, false) != "" {
		v.fail("logo", "must be a site path like /static/logos/x.svg or an absolute https URL")
	}
	if a.DocsURL != "" {
		if msg := checkURL(a.DocsURL, false, false); msg != "" {
			v.fail("docsUrl", "%s", msg)
		}
	}
	if a.Popularity < 0 || a.Popularity > 100 {
		v.fail("popularity", "must be between 0 and 100")
	}
	v.fields(a)
	switch a.Auth.Type {
	case AuthOAuth2:
		v.oauth2(a)
	case AuthAPIKey, AuthBasic:
		v.credentialForm(a)
	case "":
		v.fail("auth.type", "is required (oauth2, apiKey or basic)")
	default:
		v.fail("auth.type", "unknown type %q (oauth2, apiKey or basic)", a.Auth.Type)
	}
	return v.errs
}

type validator struct {
	src  *source
	errs []error
}

func (v *validator) fail(path, format string, args ...any) {
	v.errs = append(v.errs, v.src.errf(path, format, args...))
}

func (v *validator) fields(a *App) {
	seen := map[string]bool{}
	for i := range a.Auth.Fields {
		f := &a.Auth.Fields[i]
		p := fmt.Sprintf("auth.fields[%d]", i)
		if !fieldKeyRe.MatchString(f.Key) {
			v.fail(p+".key", "must match %s", fieldKeyRe)
		} else if seen[f.Key] {
			v.fail(p+".key", "duplicate field %q", f.Key)
		}
		seen[f.Key] = true
		if strings.TrimSpace(f.Label) == "" {
			f.Label = f.Key
		}
		f.re = nil
		if f.Pattern != "" {
			re, err := compilePattern(f.Pattern)
			if err != nil {
				v.fail(p+".pattern", "does not compile: %v", err)
				continue
			}
			f.re = re
		}
		if f.Default != "" {
			if !f.Optional {
				v.fail(p+".default", "only an optional field can have a default")
			} else if f.re != nil && !f.re.MatchString(f.Default) {
				v.fail(p+".default", "does not match the field's pattern")
			}
		}
	}
}

func (v *validator) oauth2(a *App) {
	au := &a.Auth
	v.endpoint(a, "auth.authorizeUrl", au.AuthorizeURL, true)
	v.endpoint(a, "auth.tokenUrl", au.TokenURL, true)
	v.endpoint(a, "auth.revokeUrl", au.RevokeURL, false)
	if au.ScopeSeparator == "" {
		au.ScopeSeparator = " "
	}
	if len(au.ScopeSeparator) > 3 {
		v.fail("auth.scopeSeparator", "must be at most 3 characters")
	}
	for i, s := range au.Scopes {
		if s == "" || strings.Contains(s, au.ScopeSeparator) || strings.ContainsAny(s, " \t\r\n") {
			v.fail(fmt.Sprintf("auth.scopes[%d]", i), "must be one non-empty scope without spaces or the separator %q", au.ScopeSeparator)
		}
	}
	if au.TokenAuthMethod == "" {
		au.TokenAuthMethod = TokenAuthBasic
	}
	switch au.TokenAuthMethod {
	case TokenAuthBasic, TokenAuthPost, TokenAuthNone:
	default:
		v.fail("auth.tokenAuthMethod", "must be client_secret_basic, client_secret_post or none")
	}
	if au.PKCE == nil {
		t := true
		au.PKCE = &t
	}
	if au.TokenAuthMethod == TokenAuthNone && !*au.PKCE {
		v.fail("auth.pkce", "a public client (tokenAuthMethod: none) must use PKCE")
	}
	for k := range au.AuthParams {
		if reservedAuthParams[k] {
			v.fail("auth.authParams."+k, "is set by the OAuth flow and cannot be overridden")
		}
	}
	if au.Test != nil {
		v.test(a)
	}
}

func (v *validator) credentialForm(a *App) {
	au := &a.Auth
	oauthOnly := []struct {
		path string
		set  bool
	}{
		{"auth.authorizeUrl", au.AuthorizeURL != ""}, {"auth.tokenUrl", au.TokenURL != ""},
		{"auth.revokeUrl", au.RevokeURL != ""}, {"auth.scopes", len(au.Scopes) > 0},
		{"auth.scopeSeparator", au.ScopeSeparator != ""}, {"auth.pkce", au.PKCE != nil},
		{"auth.authParams", len(au.AuthParams) > 0}, {"auth.tokenAuthMethod", au.TokenAuthMethod != ""},
		// Credentials from HITCH_APP_* env vars are ignored here; only written ones are a mistake.
		{"auth.clientId", au.ClientID != "" && v.src.pos["auth.clientId"].line > 0},
		{"auth.clientSecret", au.ClientSecret != "" && v.src.pos["auth.clientSecret"].line > 0},
	}
	for _, o := range oauthOnly {
		if o.set {
			v.fail(o.path, "is only for oauth2 apps")
		}
	}
	if len(au.Fields) == 0 {
		v.fail("auth.fields", "%s apps need at least one field", au.Type)
	}
	if au.Type == AuthBasic {
		for _, k := range []string{"username", "password"} {
			if _, ok := a.Field(k); !ok {
				v.fail("auth.fields", "basic apps need a %q field", k)
			}
		}
	}
	if au.Test == nil {
		v.fail("auth.test", "%s apps need a test request to check credentials", au.Type)
		return
	}
	v.test(a)
}

func (v *validator) test(a *App) {
	t := a.Auth.Test
	if t.Method == "" {
		t.Method = "GET"
	}
	t.Method = strings.ToUpper(t.Method)
	switch t.Method {
	case "GET", "POST", "HEAD":
	default:
		v.fail("auth.test.method", "must be GET, POST or HEAD")
	}
	v.endpoint(a, "auth.test.url", t.URL, true)
	for name, val := range t.Headers {
		p := "auth.test.headers." + name
		if !headerRe.MatchString(name) {
			v.fail(p, "is not a valid header name")
		}
		if strings.ContainsAny(val, "\r\n\x00") {
			v.fail(p, "must not contain line breaks")
		}
		v.placeholders(a, p, val, false)
	}
	for i, s := range t.ExpectStatus {
		if s < 100 || s > 599 {
			v.fail(fmt.Sprintf("auth.test.expectStatus[%d]", i), "must be an HTTP status (100-599)")
		}
	}
}

// endpoint checks a URL template: an absolute https URL (http only to the
// loopback host), or for sandbox apps a path on Hitch itself.
func (v *validator) endpoint(a *App, path, tmpl string, required bool) {
	if tmpl == "" {
		if required {
			v.fail(path, "is required")
		}
		return
	}
	if !v.placeholders(a, path, tmpl, true) {
		return
	}
	filled := placeholderRe.ReplaceAllString(tmpl, "x")
	if a.Sandbox && isSitePath(filled) {
		return
	}
	if msg := checkURL(filled, a.Sandbox, true); msg != "" {
		v.fail(path, "%s", msg)
	}
}

// placeholders checks that every {name} in tmpl is a declared field; in URLs
// such a field must have a pattern, since its value becomes part of a host or path.
func (v *validator) placeholders(a *App, path, tmpl string, inURL bool) bool {
	ok := true
	for _, m := range placeholderRe.FindAllStringSubmatch(tmpl, -1) {
		f, found := a.Field(m[1])
		switch {
		case !found:
			v.fail(path, "uses {%s} but the app declares no such field", m[1])
			ok = false
		case inURL && f.Pattern == "":
			v.fail(path, "uses {%s} in a URL, so that field needs a pattern", m[1])
			ok = false
		case inURL && f.Optional && f.Default == "":
			v.fail(path, "uses {%s} in a URL, so that optional field needs a default", m[1])
			ok = false
		}
	}
	if rest := placeholderRe.ReplaceAllString(tmpl, ""); strings.ContainsAny(rest, "{}") {
		v.fail(path, "has a brace that is not a {field} placeholder")
		ok = false
	}
	return ok
}

func isSitePath(s string) bool {
	return strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && !strings.ContainsAny(s, "\\ \t\r\n")
}

// checkURL returns why raw is not an acceptable URL, or "". An endpoint
// (one Hitch sends credentials to) must not have a fragment either.
func checkURL(raw string, allowHTTP, endpoint bool) string {
	const want = "must be an absolute https URL"
	if strings.ContainsAny(raw, " \t\r\n\\") {
		return want
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return want
	}
	if u.User != nil {
		return "must not carry user information"
	}
	if endpoint && (u.Fragment != "" || strings.Contains(raw, "#")) {
		return "must not have a fragment"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		if allowHTTP || isLoopback(u.Hostname()) {
			return ""
		}
		return want + " (http is allowed only for 127.0.0.1 and localhost)"
	}
	return want
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
