package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/client"
	"github.com/hitchdev/hitch/internal/client/clienttest"
)

func newClient(t *testing.T, url string, o client.Options) *client.Client {
	t.Helper()
	o.BaseURL = url
	if o.Token == nil {
		o.Token = client.StaticToken("tok")
	}
	c, err := client.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://x", "http://", "http://u:p@h", "http://h/?q=1", "http://h/#f"} {
		if _, err := client.New(client.Options{BaseURL: u}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	c, err := client.New(client.Options{BaseURL: " https://hitch.example/base/ "})
	if err != nil || c.URL() != "https://hitch.example/base" {
		t.Fatalf("New: %v %q", err, c.URL())
	}
}

func TestErrors(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()

	cases := []struct {
		name    string
		handler http.HandlerFunc
		url     string
		check   func(error) bool
		text    string
	}{
		{
			name: "envelope",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(404)
				fmt.Fprint(w, `{"error":{"code":"connection_not_found","message":"No connection with id \"x\" exists."}}`)
			},
			check: func(err error) bool {
				var e *client.Error
				return errors.As(err, &e) && e.Status == 404 && e.Code == "connection_not_found" && client.IsNotFound(err)
			},
			text: `No connection with id "x" exists.`,
		},
		{
			name: "proxy page",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(502)
				fmt.Fprint(w, "<html>bad gateway</html>")
			},
			check: func(err error) bool {
				var e *client.Error
				return errors.As(err, &e) && e.Status == 502 && e.Code == "http_502"
			},
			text: "HTTP 502",
		},
		{
			name:    "not JSON",
			handler: func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello") },
			check:   func(err error) bool { return err != nil },
			text:    "did not answer with the Hitch API's JSON",
		},
		{
			name:  "server down",
			url:   downURL,
			check: func(err error) bool { var u *client.UnreachableError; return errors.As(err, &u) },
			text:  "cannot reach Hitch at " + downURL,
		},
		{
			name:    "timeout",
			handler: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
			check:   func(err error) bool { return errors.Is(err, client.ErrTimeout) },
			text:    "no answer in time",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.url
			if tc.handler != nil {
				srv := httptest.NewServer(tc.handler)
				defer srv.Close()
				u = srv.URL
			}
			c := newClient(t, u, client.Options{Timeout: 200 * time.Millisecond})
			_, err := c.Connection(t.Context(), "x")
			if !tc.check(err) || !strings.Contains(fmt.Sprint(err), tc.text) {
				t.Fatalf("error %T %v", err, err)
			}
			if strings.Contains(fmt.Sprint(err), "tok") {
				t.Fatalf("the error shows the token: %v", err)
			}
		})
	}
}

func TestCallerCancelIsNotUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := newClient(t, srv.URL, client.Options{}).Session(ctx, "s", 10*time.Second)
	var u *client.UnreachableError
	if !errors.Is(err, context.Canceled) || errors.As(err, &u) {
		t.Fatalf("got %T %v", err, err)
	}
}

func TestRequests(t *testing.T) {
	type seen struct{ method, path, query, auth, body string }
	var last atomic.Pointer[seen]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		last.Store(&seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), strings.TrimSpace(string(raw))})
		if r.URL.Query().Get("wait") != "" {
			time.Sleep(300 * time.Millisecond) // longer than the call timeout: the wait widens it
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/connections/"):
			fmt.Fprint(w, `{"id":"con_1","input":{}}`)
		case r.URL.Path == "/connections":
			fmt.Fprint(w, `{"items":[],"cursor":null}`)
		default:
			fmt.Fprint(w, `{"id":"ses_1","status":"pending","expiresAt":"2030-01-02T03:04:05Z"}`)
		}
	}))
	defer srv.Close()
	var calls atomic.Int32
	c := newClient(t, srv.URL+"/", client.Options{Timeout: 150 * time.Millisecond, Token: func(context.Context) (string, error) {
		return fmt.Sprintf("t%d", calls.Add(1)), nil
	}})
	ctx := t.Context()
	yes := true
	cases := []struct {
		name string
		call func() error
		want seen
	}{
		{"start", func() error {
			_, err := c.StartConnect(ctx, client.ConnectRequest{Intent: "CRM", TenantKey: "acme"})
			return err
		}, seen{method: "POST", path: "/connect", body: `{"intent":"CRM","tenantKey":"acme"}`}},
		{"session wait", func() error { _, err := c.Session(ctx, "ses_1", 1200*time.Millisecond); return err },
			seen{method: "GET", path: "/connect/ses_1", query: "wait=1"}},
		{"session wait capped", func() error { _, err := c.Session(ctx, "ses_1", 5*time.Minute); return err },
			seen{method: "GET", path: "/connect/ses_1", query: "wait=60"}},
		{"cancel", func() error { _, err := c.CancelSession(ctx, "ses_1"); return err },
			seen{method: "POST", path: "/connect/ses_1/cancel"}},
		{"list", func() error {
			_, err := c.ListConnections(ctx, client.ListOptions{AppKey: "hubspot", Disconnected: &yes, Limit: 5, Cursor: "c1", TenantKey: "acme"})
			return err
		}, seen{method: "GET", path: "/connections", query: "appKey=hubspot&cursor=c1&disconnected=true&limit=5&tenantKey=acme"}},
		{"get escapes the id", func() error { _, err := c.Connection(ctx, "../a/b?c"); return err },
			seen{method: "GET", path: "/connections/..%2Fa%2Fb%3Fc"}},
		{"archive", func() error { _, err := c.ArchiveConnection(ctx, "con_1"); return err },
			seen{method: "DELETE", path: "/connections/con_1"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); err != nil {
				t.Fatal(err)
			}
			got := *last.Load()
			tc.want.auth = fmt.Sprintf("Bearer t%d", i+1) // the source is asked once per call
			if got != tc.want {
				t.Fatalf("sent %+v, want %+v", got, tc.want)
			}
		})
	}
	if _, err := c.Connection(ctx, ""); err == nil {
		t.Fatal("empty id accepted")
	}
	if _, err := c.StartConnect(ctx, client.ConnectRequest{Name: "x"}); err == nil {
		t.Fatal("a connect request naming nothing was sent")
	}
}

func TestNoToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { t.Error("request sent without a token") }))
	defer srv.Close()
	for _, src := range []client.TokenSource{nil, client.StaticToken("")} {
		c, _ := client.New(client.Options{BaseURL: srv.URL, Token: src})
		if _, err := c.Connection(t.Context(), "x"); !errors.Is(err, client.ErrNoToken) {
			t.Fatalf("got %v", err)
		}
	}
}

func TestHandlerTransport(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || r.RequestURI != "/connections/a%2Fb" {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":{"code":"bad","message":"saw %s %s"}}`, r.Header.Get("Authorization"), r.RequestURI)
			return
		}
		w.WriteHeader(410)
		fmt.Fprint(w, `{"error":{"code":"gone","message":"Gone."}}`)
	})
	c := newClient(t, "http://in-process", client.Options{HTTPClient: &http.Client{Transport: client.HandlerTransport(h)}})
	_, err := c.Connection(t.Context(), "a/b")
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 410 || e.Code != "gone" {
		t.Fatalf("got %v", err)
	}
}

// TestAgainstServer runs every call against a real Hitch.
func TestAgainstServer(t *testing.T) {
	srv := clienttest.Start(t)
	ctx := t.Context()
	acme := newClient(t, srv.URL, client.Options{Token: client.StaticToken(srv.Token("acme"))})
	other := newClient(t, srv.URL, client.Options{Token: client.StaticToken(srv.Token("other"))})
	admin := newClient(t, srv.URL, client.Options{Token: client.StaticToken(srv.AdminToken())})

	var ids []string
	for i := range 2 {
		s, err := acme.StartConnect(ctx, client.ConnectRequest{AppKey: "sandbox-apikey", Name: fmt.Sprint("key ", i)})
		if err != nil {
			t.Fatal(err)
		}
		if s.Status != client.StatusPending || !strings.HasPrefix(s.URL, srv.URL+"/c/") || s.ExpiresAt.Before(time.Now()) {
			t.Fatalf("session %+v", s)
		}
		if err := clienttest.NewBrowser().ConnectAPIKey(s.URL, "sandbox-good"); err != nil {
			t.Fatal(err)
		}
		done, err := acme.Session(ctx, s.ID, 5*time.Second)
		if err != nil || !done.Done() || done.Status != client.StatusCompleted || done.Connection == nil {
			t.Fatalf("session after connecting: %+v %v", done, err)
		}
		ids = append(ids, done.Connection.ID)
	}

	var pages, total int
	err := acme.EachConnection(ctx, client.ListOptions{Limit: 1}, func(p *client.ConnectionPage) error {
		pages++
		total += len(p.Items)
		return nil
	})
	if err != nil || pages != 2 || total != 2 {
		t.Fatalf("paging: %d pages, %d items, %v", pages, total, err)
	}
	if p, err := other.ListConnections(ctx, client.ListOptions{}); err != nil || len(p.Items) != 0 {
		t.Fatalf("another tenant lists %v %v", p, err)
	}
	if _, err := other.Connection(ctx, ids[0]); !client.IsNotFound(err) {
		t.Fatalf("another tenant reads the connection: %v", err)
	}
	if _, err := other.ArchiveConnection(ctx, ids[0]); !client.IsNotFound(err) {
		t.Fatalf("another tenant archives the connection: %v", err)
	}
	if p, err := admin.ListConnections(ctx, client.ListOptions{TenantKey: "acme"}); err != nil || len(p.Items) != 2 {
		t.Fatalf("admin list: %v %v", p, err)
	}
	conn, err := acme.ArchiveConnection(ctx, ids[0])
	if err != nil || conn.Status() != "archived" {
		t.Fatalf("archive: %+v %v", conn, err)
	}
	if c, err := acme.Connection(ctx, ids[1]); err != nil || c.Status() != "connected" || c.AppKey != "sandbox-apikey" {
		t.Fatalf("get: %+v %v", c, err)
	}

	s, err := acme.StartConnect(ctx, client.ConnectRequest{Intent: "CRM"})
	if err != nil {
		t.Fatal(err)
	}
	if s, err = acme.CancelSession(ctx, s.ID); err != nil || s.Status != client.StatusCancelled {
		t.Fatalf("cancel: %+v %v", s, err)
	}
	if _, err := acme.StartConnect(ctx, client.ConnectRequest{AppKey: "no-such-app"}); !client.IsNotFound(err) {
		t.Fatalf("unknown app: %v", err)
	}
}
