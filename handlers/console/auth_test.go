package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hitchdev/hitch/internal/admin"
	"github.com/hitchdev/hitch/internal/client/clienttest"
)

// clock is a server clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// noRedirects is a client that shows redirects instead of following them.
func noRedirects(b *clienttest.Browser) *http.Client {
	c := *b.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func TestAuthSignedOutReachesNothing(t *testing.T) {
	srv := clienttest.Start(t)
	b := clienttest.NewBrowser()
	c := noRedirects(b)
	for _, path := range []string{
		"/console", "/console/connections", "/console/connections/con_x", "/console/connections/new",
		"/console/apps", "/console/apps/hubspot", "/console/webhooks", "/console/webhooks/new", "/console/tenants",
		"/console/sessions/cs_x", "/console/sessions/cs_x/status",
	} {
		res, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc := res.Header.Get("Location")
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/login?") {
			t.Errorf("GET %s signed out: %d to %q; want 303 to the sign-in page", path, res.StatusCode, loc)
			continue
		}
		if u, _ := url.Parse(loc); u.Query().Get("next") != path {
			t.Errorf("GET %s: next = %q; want the page itself", path, u.Query().Get("next"))
		}
	}
	// Posts with a valid token of a signed-out session are still refused.
	login, err := b.Get(srv.URL + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/console/connections/new", "/console/apps/hubspot/enabled", "/console/webhooks/new"} {
		res, err := c.PostForm(srv.URL+path, url.Values{"csrf": {login.CSRF()}, "enabled": {"false"}, "tenantKey": {"t"}, "url": {"https://x.example"}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/console/login") {
			t.Errorf("POST %s signed out: %d to %q; want 303 to sign-in", path, res.StatusCode, res.Header.Get("Location"))
		}
	}
	if _, err := srv.Store.GetAppSetting(context.Background(), "hubspot"); err == nil {
		t.Fatal("a signed-out post changed an app's settings")
	}
}

func TestAuthSignIn(t *testing.T) {
	srv := clienttest.Start(t)
	email, password := srv.Admin("ops@example.com")
	b := clienttest.NewBrowser()

	login, err := b.Get(srv.URL + "/console/login?next=" + url.QueryEscape("/console/tenants?q=a"))
	if err != nil || login.Status != http.StatusOK || login.CSRF() == "" {
		t.Fatalf("sign-in page: %d %v", login.Status, err)
	}
	wrong, _ := b.PostForm(srv.URL+"/console/login", url.Values{"email": {email}, "password": {"not the password"}, "csrf": {login.CSRF()}})
	if wrong.Status != http.StatusUnauthorized || !strings.Contains(wrong.Body, "do not match") || strings.Contains(wrong.Body, "not the password") {
		t.Fatalf("wrong password: %d", wrong.Status)
	}
	unknown, _ := b.PostForm(srv.URL+"/console/login", url.Values{"email": {"who@example.com"}, "password": {password}, "csrf": {login.CSRF()}})
	if unknown.Status != http.StatusUnauthorized || !strings.Contains(unknown.Body, "do not match") {
		t.Fatalf("unknown email: %d; want the same 401 as a wrong password", unknown.Status)
	}
	ok, _ := b.PostForm(srv.URL+"/console/login", url.Values{"email": {"OPS@example.com"}, "password": {password}, "csrf": {login.CSRF()}, "next": {"/console/tenants?q=a"}})
	if ok.Status != http.StatusOK || !strings.HasSuffix(ok.URL, "/console/tenants?q=a") {
		t.Fatalf("sign-in landed on %s (%d); want the page asked for", ok.URL, ok.Status)
	}
	// The pre-sign-in token is replaced.
	if ok.CSRF() == "" || ok.CSRF() == login.CSRF() {
		t.Fatal("CSRF token not rotated at sign-in")
	}

	// Sign out, then the console is closed again.
	out, _ := b.PostForm(srv.URL+"/console/logout", url.Values{"csrf": {ok.CSRF()}})
	if !strings.Contains(out.URL, "/console/login") || !strings.Contains(out.Body, "signed out") {
		t.Fatalf("sign-out landed on %s", out.URL)
	}
	again, _ := b.Get(srv.URL + "/console/tenants")
	if !strings.Contains(again.URL, "/console/login") {
		t.Fatalf("after sign-out /console/tenants is %s", again.URL)
	}
}

func TestAuthNextStaysInConsole(t *testing.T) {
	srv := clienttest.Start(t)
	email, password := srv.Admin("ops@example.com")
	for _, next := range []string{"https://evil.example/", "//evil.example/console", "/console\\@evil.example", "/api", "javascript:alert(1)", "/console/login"} {
		b := clienttest.NewBrowser()
		login, _ := b.Get(srv.URL + "/console/login")
		res, err := noRedirects(b).PostForm(srv.URL+"/console/login", url.Values{"email": {email}, "password": {password}, "csrf": {login.CSRF()}, "next": {next}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if loc := res.Header.Get("Location"); loc != "/console" {
			t.Errorf("next=%q redirected to %q; want /console", next, loc)
		}
	}
}

func TestAuthCSRF(t *testing.T) {
	srv := clienttest.Start(t)
	b := clienttest.NewBrowser()
	srv.SignIn(b, "ops@example.com")
	other := clienttest.NewBrowser()
	otherPage, _ := other.Get(srv.URL + "/console/login")
	home, _ := b.Get(srv.URL + "/console")
	if home.CSRF() == "" {
		t.Fatal("no CSRF token on the dashboard")
	}

	cases := []struct {
		name   string
		token  string
		header map[string]string
	}{
		{"missing token", "", nil},
		{"wrong token", "x" + home.CSRF(), nil},
		{"another browser's token", otherPage.CSRF(), nil},
		{"cross-site request", home.CSRF(), map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"foreign origin", home.CSRF(), map[string]string{"Origin": "https://evil.example"}},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/console/apps/hubspot/enabled", strings.NewReader(url.Values{"csrf": {c.token}, "enabled": {"false"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		res, err := b.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, res)
		if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "refused") && !strings.Contains(body, "expired") {
			t.Errorf("%s: HTTP %d %s; want a 403 page", c.name, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
	if _, err := srv.Store.GetAppSetting(context.Background(), "hubspot"); err == nil {
		t.Fatal("a refused post changed an app's settings")
	}
	// Still signed in: refusing a forged post does not sign the admin out.
	if p, _ := b.Get(srv.URL + "/console"); strings.Contains(p.URL, "/login") {
		t.Fatal("a refused post signed the admin out")
	}
}

func TestAuthSessionExpiry(t *testing.T) {
	clk := &clock{t: time.Now()}
	srv := clienttest.StartWith(t, clienttest.Options{Now: clk.Now, ConsoleTTL: time.Hour})
	b := clienttest.NewBrowser()
	srv.SignIn(b, "ops@example.com")

	clk.Add(59 * time.Minute)
	if p, _ := b.Get(srv.URL + "/console/tenants"); strings.Contains(p.URL, "/login") {
		t.Fatal("signed out before the TTL")
	}
	clk.Add(2 * time.Minute)
	p, _ := b.Get(srv.URL + "/console/tenants")
	if !strings.Contains(p.URL, "/console/login") || !strings.Contains(p.Body, "expired") {
		t.Fatalf("after the TTL /console/tenants is %s; want the sign-in page saying the session expired", p.URL)
	}
	// Using the console does not extend a sign-in: the TTL counts from sign-in.
	if p, _ := b.Get(srv.URL + "/console"); !strings.Contains(p.URL, "/login") {
		t.Fatal("an expired session came back")
	}
}

func TestAuthPasswordChangeEndsSessions(t *testing.T) {
	clk := &clock{t: time.Now()}
	srv := clienttest.StartWith(t, clienttest.Options{Now: clk.Now})
	b := clienttest.NewBrowser()
	srv.SignIn(b, "ops@example.com")
	clk.Add(time.Second)
	ad, err := srv.Store.GetAdminByEmail(context.Background(), "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	a := &admin.Accounts{Store: srv.Store, Cost: bcrypt.MinCost, Now: clk.Now}
	if err := a.SetPassword(context.Background(), ad.ID, "a different password"); err != nil {
		t.Fatal(err)
	}
	if p, _ := b.Get(srv.URL + "/console"); !strings.Contains(p.URL, "/console/login") {
		t.Fatalf("after a password change the old session reached %s", p.URL)
	}
}

func TestAuthRateLimit(t *testing.T) {
	srv := clienttest.Start(t)
	email, password := srv.Admin("ops@example.com")
	b := clienttest.NewBrowser()
	login, _ := b.Get(srv.URL + "/console/login")
	limited := 0
	for i := 0; i < 15; i++ {
		p, _ := b.PostForm(srv.URL+"/console/login", url.Values{"email": {email}, "password": {"guess number " + string(rune('a'+i))}, "csrf": {login.CSRF()}})
		if p.Status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("15 wrong passwords in a row were never limited")
	}
	// The right password is refused too while limited: the limit is not an oracle.
	p, _ := b.PostForm(srv.URL+"/console/login", url.Values{"email": {email}, "password": {password}, "csrf": {login.CSRF()}})
	if p.Status != http.StatusTooManyRequests {
		t.Fatalf("right password while limited: HTTP %d; want 429", p.Status)
	}
}

func TestAuthPagesAreLockedDown(t *testing.T) {
	srv := clienttest.Start(t)
	b := clienttest.NewBrowser()
	res, err := b.Client().Get(srv.URL + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'nonce-", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "hitch_console" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.Path != "/console" || cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("console cookie = %+v; want HttpOnly, Path=/console, SameSite=Lax", cookie)
	}
	srv.SignIn(b, "ops@example.com")
	p, _ := b.Get(srv.URL + "/console/no-such-page")
	if p.Status != http.StatusNotFound || !strings.Contains(p.Body, "<html") {
		t.Fatalf("unknown console page: %d; want a 404 page", p.Status)
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return sb.String()
}
