// Package sandbox is a small but honest OAuth 2.0 authorization server
// (RFC 6749 with PKCE, refresh-token rotation, RFC 7009 revocation and
// RFC 9207 iss) plus an API-key checker. Hitch serves it in demo mode and
// tests use it as a real provider over HTTP. State lives in memory.
package sandbox

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// AuthMethod is how a client authenticates at the token and revocation
// endpoints (RFC 6749 section 2.3, RFC 8414 names).
type AuthMethod string

// Client authentication methods.
const (
	AuthBasic AuthMethod = "client_secret_basic"
	AuthPost  AuthMethod = "client_secret_post"
	AuthNone  AuthMethod = "none"
)

// Client is a registered OAuth client.
type Client struct {
	// Name is shown on the consent page; the client id when empty.
	Name string
	// Secret is required unless AuthMethod is AuthNone.
	Secret string
	// RedirectURIs are compared with the request's redirect_uri exactly.
	RedirectURIs []string
	// AuthMethod defaults to AuthBasic, or AuthNone when Secret is empty.
	AuthMethod AuthMethod
}

// Options configures a Server. The zero value of every field but Issuer and
// Clients is a sensible default; switches are named so that false is the
// strict, standard behaviour.
type Options struct {
	// Issuer is the absolute base URL where the server is mounted, such as
	// http://127.0.0.1:8080/sandbox/oauth. A trailing slash is dropped.
	Issuer string
	// Clients maps client_id to its registration.
	Clients map[string]Client
	// AccessTokenTTL defaults to one hour.
	AccessTokenTTL time.Duration
	// DisableRotation makes refreshes return the same refresh token.
	DisableRotation bool
	// PKCEOptional accepts confidential clients without a code challenge.
	// Public clients always need one, and only S256 is ever accepted.
	PKCEOptional bool
	// OmitIss leaves the RFC 9207 iss parameter out of authorization responses.
	OmitIss bool
	// TimeoutDelay is how long a refresh hit by the "timeout" failure sleeps;
	// defaults to 30 s.
	TimeoutDelay time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// Failure is a fault injected into the next refresh.
type Failure string

// Failures accepted by FailNextRefresh.
const (
	FailNone          Failure = ""
	FailTransient     Failure = "transient"      // 503 with Retry-After, grant untouched
	FailTimeout       Failure = "timeout"        // sleep TimeoutDelay, then 504, grant untouched
	FailPermanent     Failure = "permanent"      // invalid_grant, grant revoked
	FailInvalidClient Failure = "invalid_client" // 401 invalid_client, grant untouched
)

// ErrUnknownFailure is returned for a failure kind the server does not know.
var ErrUnknownFailure = errors.New("sandbox: unknown failure kind")

// Stats counts what the server has seen since it was created.
type Stats struct {
	AuthorizeCalls   int `json:"authorizeCalls"`   // GET /authorize requests
	Approvals        int `json:"approvals"`        // consents approved
	Denials          int `json:"denials"`          // consents denied
	CodeExchanges    int `json:"codeExchanges"`    // codes exchanged for tokens
	CodeReplays      int `json:"codeReplays"`      // codes presented again after use
	Refreshes        int `json:"refreshes"`        // refreshes that issued tokens
	RefreshReuse     int `json:"refreshReuse"`     // rotated refresh tokens presented again
	InjectedFailures int `json:"injectedFailures"` // refreshes failed by a switch
	Revocations      int `json:"revocations"`      // tokens revoked at /revoke
	TokenErrors      int `json:"tokenErrors"`      // error responses from /token
}

const (
	codeTTL       = 60 * time.Second
	pendingTTL    = 10 * time.Minute
	maxPending    = 10000
	sweepEvery    = time.Minute
	usedCodeKeep  = 10 * time.Minute // replays stay detectable this long after expiry
	revokedKeep   = 24 * time.Hour
	defaultTTL    = time.Hour
	defaultSleep  = 30 * time.Second
	subject       = "sandbox-user"
	subjectName   = "Sandbox User"
	browserCookie = "hitch_sandbox_browser"
	realm         = "Sandbox OAuth"
)

// Server is the sandbox authorization server. It is an http.Handler meant to
// be mounted under its issuer path with http.StripPrefix.
type Server struct {
	issuer       string
	secureCookie bool
	clients      map[string]Client
	pkceOptional bool
	sendIss      bool
	now          func() time.Time
	log          *slog.Logger
	mux          *http.ServeMux
	csrf         *http.CrossOriginProtection

	mu           sync.Mutex
	accessTTL    time.Duration
	rotate       bool
	omitRefresh  bool
	failNext     Failure
	timeoutDelay time.Duration
	pending      map[string]*pendingRequest // by request id
	codes        map[string]*authCode       // by token hash
	grants       map[string]*grant          // by grant id
	refresh      map[string]*refreshRecord  // by token hash
	access       map[string]*accessRecord   // by token hash
	stats        Stats
	lastSweep    time.Time
}

type pendingRequest struct {
	clientID      string
	redirectURI   string
	redirectGiven bool
	scope         string
	state         string
	challenge     string
	browser       string
	csrf          string
	expires       time.Time
}

type authCode struct {
	clientID      string
	redirectURI   string
	redirectGiven bool
	scope         string
	challenge     string
	expires       time.Time
	used          bool
	grantID       string // set once tokens were issued from the code
}

type grant struct {
	id        string
	clientID  string
	scope     string
	revoked   bool
	revokedAt time.Time
}

type refreshRecord struct {
	grantID  string
	clientID string
	rotated  bool
	uses     int
}

type accessRecord struct {
	grantID  string
	clientID string
	scope    string
	expires  time.Time
	revoked  bool
}

// New returns a server for opts. It panics when opts is invalid (no usable
// issuer, a client without a secret or with a bad redirect URI), because the
// options are fixed by code.
func New(opts Options) *Server {
	issuer := strings.TrimSuffix(opts.Issuer, "/")
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		panic(fmt.Sprintf("sandbox: issuer %q must be an absolute http(s) URL without query or fragment", opts.Issuer))
	}
	clients := make(map[string]Client, len(opts.Clients))
	for id, c := range opts.Clients {
		if err := normalizeClient(id, &c); err != nil {
			panic(err.Error())
		}
		clients[id] = c
	}
	s := &Server{
		issuer:       issuer,
		secureCookie: u.Scheme == "https",
		clients:      clients,
		pkceOptional: opts.PKCEOptional,
		sendIss:      !opts.OmitIss,
		now:          opts.Now,
		log:          opts.Logger,
		csrf:         http.NewCrossOriginProtection(),
		accessTTL:    opts.AccessTokenTTL,
		rotate:       !opts.DisableRotation,
		timeoutDelay: opts.TimeoutDelay,
		pending:      map[string]*pendingRequest{},
		codes:        map[string]*authCode{},
		grants:       map[string]*grant{},
		refresh:      map[string]*refreshRecord{},
		access:       map[string]*accessRecord{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.accessTTL <= 0 {
		s.accessTTL = defaultTTL
	}
	if s.timeoutDelay <= 0 {
		s.timeoutDelay = defaultSleep
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", s.handleAuthorize)
	mux.HandleFunc("POST /authorize", s.handleDecision)
	mux.HandleFunc("POST /token", s.handleToken)
	mux.HandleFunc("POST /revoke", s.handleRevoke)
	mux.HandleFunc("GET /userinfo", s.handleUserinfo)
	mux.HandleFunc("POST /userinfo", s.handleUserinfo)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.handleMetadata)
	mux.HandleFunc("GET /control", s.handleControl)
	mux.HandleFunc("POST /control", s.handleControl)
	s.mux = mux
	return s
}

func normalizeClient(id string, c *Client) error {
	if id == "" {
		return errors.New("sandbox: empty client id")
	}
	if c.AuthMethod == "" {
		c.AuthMethod = AuthBasic
		if c.Secret == "" {
			c.AuthMethod = AuthNone
		}
	}
	switch c.AuthMethod {
	case AuthBasic, AuthPost:
		if c.Secret == "" {
			return fmt.Errorf("sandbox: client %q uses %s but has no secret", id, c.AuthMethod)
		}
	case AuthNone:
		if c.Secret != "" {
			return fmt.Errorf("sandbox: public client %q must not have a secret", id)
		}
	default:
		return fmt.Errorf("sandbox: client %q has unknown auth method %q", id, c.AuthMethod)
	}
	if len(c.RedirectURIs) == 0 {
		return fmt.Errorf("sandbox: client %q has no redirect URI", id)
	}
	for _, r := range c.RedirectURIs {
		u, err := url.Parse(r)
		if err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(r, "#") {
			return fmt.Errorf("sandbox: client %q redirect URI %q must be absolute without fragment", id, r)
		}
	}
	c.RedirectURIs = append([]string(nil), c.RedirectURIs...)
	if c.Name == "" {
		c.Name = id
	}
	return nil
}

// ServeHTTP serves the endpoints relative to the mount point.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Issuer returns the issuer identifier, as sent in iss and the metadata.
func (s *Server) Issuer() string { return s.issuer }

// FailNextRefresh makes the next refresh that presents a valid, current
// refresh token fail with kind. FailNone clears a pending failure.
func (s *Server) FailNextRefresh(kind Failure) error {
	switch kind {
	case FailNone, FailTransient, FailTimeout, FailPermanent, FailInvalidClient:
	default:
		return fmt.Errorf("%w: %q", ErrUnknownFailure, kind)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = kind
	return nil
}

// SetTimeoutDelay sets how long the "timeout" failure sleeps.
func (s *Server) SetTimeoutDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timeoutDelay = d
}

// SetAccessTokenTTL sets the lifetime of access tokens issued from now on.
func (s *Server) SetAccessTokenTTL(d time.Duration) {
	if d <= 0 {
		d = defaultTTL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accessTTL = d
}

// SetRotate turns refresh-token rotation on or off.
func (s *Server) SetRotate(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rotate = on
}

// SetOmitRefreshToken makes refresh responses carry no refresh_token; the
// presented one then stays valid, as with providers that never rotate.
func (s *Server) SetOmitRefreshToken(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.omitRefresh = on
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Grants returns the number of grants that are not revoked.
func (s *Server) Grants() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.activeGrantsLocked()
}

func (s *Server) activeGrantsLocked() int {
	n := 0
	for _, g := range s.grants {
		if !g.revoked {
			n++
		}
	}
	return n
}

// RefreshTokenUses reports how many times token was redeemed at the token
// endpoint: one for the refresh it paid for, plus one per reuse attempt.
// Presentations refused before redemption (bad client, injected failure) do
// not count. Unknown tokens report 0.
func (s *Server) RefreshTokenUses(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.refresh[hashToken(token)]; ok {
		return rec.uses
	}
	return 0
}

// MaxRefreshTokenUses returns the highest RefreshTokenUses over every refresh
// token issued, so a test can assert that none was used twice.
func (s *Server) MaxRefreshTokenUses() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := 0
	for _, rec := range s.refresh {
		m = max(m, rec.uses)
	}
	return m
}

// Validate reports whether accessToken is known, unexpired and not revoked.
func (s *Server) Validate(accessToken string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.validAccessLocked(accessToken)
	return ok
}

func (s *Server) validAccessLocked(token string) (*accessRecord, bool) {
	at, ok := s.access[hashToken(token)]
	if !ok || at.revoked || !s.now().Before(at.expires) {
		return nil, false
	}
	if g := s.grants[at.grantID]; g == nil || g.revoked {
		return nil, false
	}
	return at, true
}

// revokeGrantLocked ends a grant: its refresh tokens and access tokens stop
// working at once.
func (s *Server) revokeGrantLocked(id string) {
	if g, ok := s.grants[id]; ok && !g.revoked {
		g.revoked = true
		g.revokedAt = s.now()
	}
}

// sweepLocked forgets expired state at most once a minute so a long-running
// demo does not grow without bound.
func (s *Server) sweepLocked() {
	now := s.now()
	if now.Sub(s.lastSweep) < sweepEvery {
		return
	}
	s.lastSweep = now
	for id, p := range s.pending {
		if !now.Before(p.expires) {
			delete(s.pending, id)
		}
	}
	for h, c := range s.codes {
		if now.After(c.expires.Add(usedCodeKeep)) {
			delete(s.codes, h)
		}
	}
	for h, a := range s.access {
		if now.After(a.expires.Add(time.Minute)) {
			delete(s.access, h)
		}
	}
	for id, g := range s.grants {
		if g.revoked && now.Sub(g.revokedAt) > revokedKeep {
			delete(s.grants, id)
		}
	}
	for h, r := range s.refresh {
		if _, ok := s.grants[r.grantID]; !ok {
			delete(s.refresh, h)
		}
	}
}

// newToken returns 32 random bytes, base64url without padding.
func newToken() string {
	b := make([]byte, 32)
	// crypto/rand.Read never returns an error; it aborts the program instead.
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken keys the maps so that no token is kept in plain text.
func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}
