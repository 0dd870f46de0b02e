package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hitchdev/hitch/internal/sandbox"
)

const (
	basicID     = "basic-app"
	basicSecret = "s3cr3t/with+odd&chars:%" // exercises RFC 6749 2.3.1 encoding
	postID      = "post-app"
	postSecret  = "post-secret"
	publicID    = "public-app"
	multiID     = "multi-app"
	multiSecret = "multi-secret"
	redirectURI = "http://127.0.0.1:9/callback"
	otherURI    = "http://127.0.0.1:9/other?keep=1"
)

// fakeClock is a settable clock for expiry tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a sandbox served over real HTTP under a prefix, as Hitch mounts it.
type env struct {
	t      *testing.T
	srv    *sandbox.Server
	ts     *httptest.Server
	issuer string
	clock  *fakeClock
}

func newEnv(t *testing.T, mutate func(*sandbox.Options)) *env {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String() + "/sandbox/oauth"
	clock := &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	opts := sandbox.Options{
		Issuer: issuer,
		Clients: map[string]sandbox.Client{
			basicID:  {Name: "Basic <App>", Secret: basicSecret, RedirectURIs: []string{redirectURI}, AuthMethod: sandbox.AuthBasic},
			postID:   {Name: "Post App", Secret: postSecret, RedirectURIs: []string{redirectURI}, AuthMethod: sandbox.AuthPost},
			publicID: {Name: "Public App", RedirectURIs: []string{redirectURI}, AuthMethod: sandbox.AuthNone},
			multiID:  {Secret: multiSecret, RedirectURIs: []string{redirectURI, otherURI}},
		},
		Now: clock.Now,
	}
	if mutate != nil {
		mutate(&opts)
	}
	srv := sandbox.New(opts)
	mux := http.NewServeMux()
	mux.Handle("/sandbox/oauth/", http.StripPrefix("/sandbox/oauth", srv))
	mux.Handle("/sandbox/apikey/", http.StripPrefix("/sandbox/apikey", srv.APIKeyHandler()))
	ts.Config.Handler = mux
	ts.Start()
	t.Cleanup(ts.Close)
	return &env{t: t, srv: srv, ts: ts, issuer: issuer, clock: clock}
}

func (e *env) config(clientID string) *oauth2.Config {
	c := &oauth2.Config{
		ClientID:    clientID,
		RedirectURL: redirectURI,
		Scopes:      []string{"contacts.read", "contacts.write"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.issuer + "/authorize",
			TokenURL:  e.issuer + "/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	switch clientID {
	case basicID:
		c.ClientSecret, c.Endpoint.AuthStyle = basicSecret, oauth2.AuthStyleInHeader
	case postID:
		c.ClientSecret = postSecret
	case multiID:
		c.ClientSecret, c.Endpoint.AuthStyle = multiSecret, oauth2.AuthStyleInHeader
	}
	return c
}

func (e *env) ctx() context.Context {
	return context.WithValue(e.t.Context(), oauth2.HTTPClient, e.ts.Client())
}

// browser is a user agent with cookies that stops at redirects so the test
// can read the authorization response.
func (e *env) browser() *http.Client {
	b, err := e.tryBrowser()
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) tryBrowser() (*http.Client, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &http.Client{
		Jar:           jar,
		Transport:     e.ts.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

var (
	reAction  = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	reRequest = regexp.MustCompile(`name="request_id" value="([^"]+)"`)
	reCSRF    = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// consentForm is what a browser sees on the consent page.
type consentForm struct {
	action    string
	requestID string
	csrf      string
	body      string
	header    http.Header
}

func (e *env) openConsent(b *http.Client, authURL string) consentForm {
	e.t.Helper()
	f, err := tryOpenConsent(b, authURL)
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// tryOpenConsent loads the consent page; it never calls t.Fatal, so
// goroutines may use it.
func tryOpenConsent(b *http.Client, authURL string) (consentForm, error) {
	resp, err := b.Get(authURL)
	if err != nil {
		return consentForm{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return consentForm{}, err
	}
	body := string(raw)
	if resp.StatusCode != http.StatusOK {
		return consentForm{}, fmt.Errorf("consent page: status %d, body %s", resp.StatusCode, body)
	}
	f := consentForm{body: body, header: resp.Header}
	for _, m := range []struct {
		re  *regexp.Regexp
		dst *string
	}{{reAction, &f.action}, {reRequest, &f.requestID}, {reCSRF, &f.csrf}} {
		sub := m.re.FindStringSubmatch(body)
		if sub == nil {
			return consentForm{}, fmt.Errorf("consent page lacks %s:\n%s", m.re, body)
		}
		*m.dst = sub[1]
	}
	action, err := resp.Request.URL.Parse(f.action)
	if err != nil {
		return consentForm{}, err
	}
	f.action = action.String()
	return f, nil
}

// submit posts the consent form and returns the redirect's response.
func (e *env) submit(b *http.Client, f consentForm, decision string, extra http.Header) *http.Response {
	e.t.Helper()
	resp, err := trySubmit(b, f, decision, extra)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

func trySubmit(b *http.Client, f consentForm, decision string, extra http.Header) (*http.Response, error) {
	form := url.Values{"request_id": {f.requestID}, "csrf_token": {f.csrf}, "decision": {decision}}
	req, err := http.NewRequest(http.MethodPost, f.action, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range extra {
		req.Header[k] = v
	}
	return b.Do(req)
}

// authorize runs the browser side of the flow and returns the callback query.
func (e *env) authorize(b *http.Client, authURL, decision string) url.Values {
	e.t.Helper()
	resp := e.submit(b, e.openConsent(b, authURL), decision, nil)
	body := readBody(e.t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("decision: status %d, body %s", resp.StatusCode, body)
	}
	return callbackQuery(e.t, resp, redirectURI)
}

func callbackQuery(t *testing.T, resp *http.Response, wantPrefix string) url.Values {
	t.Helper()
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, wantPrefix+"?") {
		t.Fatalf("Location %q does not go to %s", loc, wantPrefix)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// login runs the whole code flow with PKCE for clientID.
func (e *env) login(clientID string) *oauth2.Token {
	e.t.Helper()
	tok, err := e.tryLogin(clientID)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// tryLogin is login without t.Fatal, for goroutines.
func (e *env) tryLogin(clientID string) (*oauth2.Token, error) {
	conf := e.config(clientID)
	verifier := oauth2.GenerateVerifier()
	b, err := e.tryBrowser()
	if err != nil {
		return nil, err
	}
	f, err := tryOpenConsent(b, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		return nil, err
	}
	resp, err := trySubmit(b, f, "approve", nil)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("decision: status %d: %w", resp.StatusCode, err)
	}
	tok, err := conf.Exchange(e.ctx(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("exchange: %w", err)
	}
	return tok, nil
}

// refresh redeems a refresh token once through x/oauth2.
func (e *env) refresh(ctx context.Context, clientID, refreshToken string) (*oauth2.Token, error) {
	return e.config(clientID).TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
}

// rawResp is a token-endpoint answer read without x/oauth2.
type rawResp struct {
	status int
	header http.Header
	json   map[string]any
}

func (r rawResp) str(k string) string { s, _ := r.json[k].(string); return s }

// post sends a form to path, with HTTP Basic credentials when user != "".
func (e *env) post(path string, form url.Values, user, pass string) rawResp {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return toRaw(e.t, resp)
}

func toRaw(t *testing.T, resp *http.Response) rawResp {
	t.Helper()
	body := readBody(t, resp)
	r := rawResp{status: resp.StatusCode, header: resp.Header}
	if body != "" && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal([]byte(body), &r.json); err != nil {
			t.Fatalf("bad JSON %q: %v", body, err)
		}
	}
	return r
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// oauthCode returns the OAuth error code x/oauth2 surfaced, or "".
func oauthCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func retrieveStatus(err error) int {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.Response.StatusCode
	}
	return 0
}
