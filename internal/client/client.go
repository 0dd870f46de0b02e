// Package client is a Go client for Hitch's JSON HTTP API (spec section 3).
// The CLI's client verbs and the MCP tools use it, so every one of them goes
// through the API and its tenant scoping, never around it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds one API call; long-poll waits are added on top.
const DefaultTimeout = 30 * time.Second

// maxBody caps how much of a response is read, so a wrong URL that answers
// with something huge cannot exhaust memory.
const maxBody = 8 << 20

// TokenSource returns the bearer token for the next request. It is called
// once per request, so a source may mint a fresh token before one expires.
type TokenSource func(ctx context.Context) (string, error)

// StaticToken is a TokenSource that always returns token.
func StaticToken(token string) TokenSource {
	return func(context.Context) (string, error) { return token, nil }
}

// Options configure New.
type Options struct {
	// BaseURL is Hitch's public URL, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Token supplies the tenant or admin token.
	Token TokenSource
	// HTTPClient sends the requests; nil means a client with sane dial and
	// header timeouts. Its own Timeout should be zero: the client bounds each
	// call with Timeout (plus the wait of a long poll).
	HTTPClient *http.Client
	// Timeout bounds one call; zero means DefaultTimeout.
	Timeout time.Duration
	// UserAgent is sent with every request; empty means "hitch-client".
	UserAgent string
}

// Client calls one Hitch server. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	token     TokenSource
	http      *http.Client
	timeout   time.Duration
	userAgent string
}

// Error is an error answer from the API: its HTTP status and the envelope's
// code and message.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// UnreachableError means no HTTP answer came back from Hitch at URL.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach Hitch at %s: %s", e.URL, reason(e.Err))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ErrNoToken is returned when there is no token to send.
var ErrNoToken = errors.New("no token configured")

// ErrTimeout is returned when a call takes longer than its timeout.
var ErrTimeout = errors.New("no answer in time")

// IsNotFound reports whether err is the API's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// New returns a Client for the server at o.BaseURL.
func New(o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(o.BaseURL), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		shown := "that"
		if err == nil && u.User == nil {
			shown = strconv.Quote(o.BaseURL)
		}
		return nil, fmt.Errorf("the Hitch URL %s is not an absolute http(s) URL", shown)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("the Hitch URL must not carry credentials, a query or a fragment")
	}
	c := &Client{base: u, token: o.Token, http: o.HTTPClient, timeout: o.Timeout, userAgent: o.UserAgent}
	if c.http == nil {
		c.http = &http.Client{Transport: defaultTransport()}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.userAgent == "" {
		c.userAgent = "hitch-client"
	}
	return c, nil
}

// URL is the server's base URL, without a trailing slash.
func (c *Client) URL() string { return c.base.String() }

func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// No ResponseHeaderTimeout: long polls hold the headers back on purpose;
	// each call's context bounds it instead.
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return t
}

// do sends one request and decodes a 2xx JSON answer into out. path is
// already escaped. extra widens the timeout for long polls.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any, extra time.Duration) error {
	if c.token == nil {
		return ErrNoToken
	}
	token, err := c.token(ctx)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	if token == "" {
		return ErrNoToken
	}
	callCtx, cancel := context.WithTimeoutCause(ctx, c.timeout+extra, ErrTimeout)
	defer cancel()

	target := c.URL() + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(callCtx, method, target, rd)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return c.transportError(ctx, callCtx, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return c.transportError(ctx, callCtx, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return apiError(res, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("the server at %s did not answer with the Hitch API's JSON (HTTP %d): %w", c.URL(), res.StatusCode, err)
	}
	return nil
}

// transportError tells the caller's own cancellation, this call's timeout
// and an unreachable server apart.
func (c *Client) transportError(parent, call context.Context, err error) error {
	if parent.Err() != nil {
		return parent.Err()
	}
	if errors.Is(context.Cause(call), ErrTimeout) {
		return fmt.Errorf("Hitch at %s: %w", c.URL(), ErrTimeout)
	}
	return &UnreachableError{URL: c.URL(), Err: err}
}

// apiError reads the error envelope; answers without one (a proxy's page,
// a server that is not Hitch) still give a useful status line.
func apiError(res *http.Response, raw []byte) error {
	var env struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &env) == nil && env.Error != nil && env.Error.Message != "" {
		return &Error{Status: res.StatusCode, Code: env.Error.Code, Message: env.Error.Message}
	}
	return &Error{
		Status:  res.StatusCode,
		Code:    "http_" + strconv.Itoa(res.StatusCode),
		Message: fmt.Sprintf("Hitch answered HTTP %d %s without an API error body; is the URL right?", res.StatusCode, http.StatusText(res.StatusCode)),
	}
}

// reason is the short cause of a transport error, without the request URL
// that net/http repeats.
func reason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	return err.Error()
}

// seg escapes one path segment, so an id cannot climb to another route.
func seg(id string) string { return url.PathEscape(id) }
