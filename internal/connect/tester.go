package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/fault"
)

// Tester runs an app's catalog test request with submitted credentials, so a
// wrong key is refused before anything is saved.
type Tester struct {
	HTTP    *http.Client        // nil: 10 s timeout, redirects not followed
	Resolve func(string) string // makes catalog paths absolute (sandbox apps)
}

// TestFailure is the provider refusing the credentials; Message is the
// provider's own words where it gave any, trimmed and safe to show.
type TestFailure struct {
	Status  int
	Message string
}

func (e *TestFailure) Error() string {
	return fmt.Sprintf("the provider refused the credentials (HTTP %d)", e.Status)
}

// Test sends the test request. It returns nil when the provider accepts,
// a *TestFailure when it refuses, and a fault when it cannot be reached.
func (t *Tester) Test(ctx context.Context, app *catalog.App, fields map[string]string) error {
	tr := app.Auth.Test
	if tr == nil {
		return nil
	}
	target, err := app.Expand(tr.URL, fields)
	if err != nil {
		return fieldFault(app, err)
	}
	if t.Resolve != nil {
		target = t.Resolve(target)
	}
	method := tr.Method
	if method == "" {
		method = http.MethodGet
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return fmt.Errorf("connect: test request: %w", err)
	}
	req.Header.Set("User-Agent", "Hitch/1 (credentials check)")
	req.Header.Set("Accept", "application/json")
	for k, v := range tr.Headers {
		val, err := app.Expand(v, fields)
		if err != nil {
			return fieldFault(app, err)
		}
		req.Header.Set(k, val)
	}
	if app.Auth.Type == catalog.AuthBasic {
		req.SetBasicAuth(fields["username"], fields["password"])
	}
	res, err := t.client().Do(req)
	if err != nil {
		return fault.Wrap(err, fault.Upstream, "provider_unreachable", app.Name+" could not be reached to check the credentials. Try again in a moment.")
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if tr.Accepts(res.StatusCode) {
		return nil
	}
	if res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests {
		return fault.New(fault.Upstream, "provider_unavailable", "%s could not check the credentials right now (HTTP %d). Try again in a moment.", app.Name, res.StatusCode)
	}
	return &TestFailure{Status: res.StatusCode, Message: providerMessage(body, res.StatusCode)}
}

func (t *Tester) client() *http.Client {
	if t.HTTP != nil {
		return t.HTTP
	}
	return &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// providerMessage picks the human part of a provider's error body.
func providerMessage(body []byte, status int) string {
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		for _, k := range []string{"message", "error_description", "detail", "error", "errors"} {
			if s := textOf(m[k]); s != "" {
				return clip(s)
			}
		}
	}
	if s := strings.TrimSpace(string(body)); s != "" && !strings.HasPrefix(s, "<") {
		return clip(s)
	}
	return fmt.Sprintf("The credentials were refused (HTTP %d %s).", status, http.StatusText(status))
}

func textOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		return textOf(x["message"])
	case []any:
		if len(x) > 0 {
			return textOf(x[0])
		}
	}
	return ""
}

func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if !utf8.ValidString(s) || !printable(s) {
		return "The credentials were refused."
	}
	if r := []rune(s); len(r) > 280 {
		s = string(r[:280]) + "…"
	}
	return s
}

// AsTestFailure reports whether err is the provider refusing credentials.
func AsTestFailure(err error) (*TestFailure, bool) {
	var tf *TestFailure
	ok := errors.As(err, &tf)
	return tf, ok
}
