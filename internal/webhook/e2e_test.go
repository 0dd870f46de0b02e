package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hitchdev/hitch/handlers"
	"github.com/hitchdev/hitch/internal/auth"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/config"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/events"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
	"github.com/hitchdev/hitch/internal/webhook"
)

// server is the whole Hitch router over a real store, as `hitch serve` builds it.
type server struct {
	t      *testing.T
	url    string
	issuer *auth.Issuer
}

func newServer(t *testing.T, s *store.Store, keys *secrets.KeyRing) *server {
	t.Helper()
	cat, err := catalog.Load(catalog.Options{Getenv: func(string) string { return "" }, IncludeSandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "an-honest-test-secret-of-32-bytes-or-more"
	issuer, err := auth.NewIssuer("test-ws", []byte(secret), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	pub, _ := url.Parse("http://" + srv.Listener.Addr().String())
	cfg := &config.Config{PublicURL: pub, WorkspaceKey: "test-ws", WorkspaceSecret: []byte(secret), Sandbox: true}
	srv.Config.Handler = handlers.New(handlers.Deps{Config: cfg, Store: s, Catalog: cat, Keys: keys, Issuer: issuer, Log: quietLog()})
	srv.Start()
	t.Cleanup(srv.Close)
	return &server{t: t, url: srv.URL, issuer: issuer}
}

func (sv *server) token(p auth.Principal) string {
	sv.t.Helper()
	tok, err := sv.issuer.Mint(p, time.Hour)
	if err != nil {
		sv.t.Fatal(err)
	}
	return tok
}

func (sv *server) do(method, path, token string, body any) (int, map[string]any) {
	sv.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, sv.url+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		sv.t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &m); err != nil {
		sv.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	return res.StatusCode, m
}

// TestEveryEventTypeEndToEnd records each lifecycle event the way the product does (the API for created and
// deleted, events.Record in a store transaction for disconnected and reconnected), delivers them to a real
// receiver, and checks every request with two independent verifiers: the official Go library and the npm
// standardwebhooks package under Node. Then it rotates the secret and checks both signatures.
func TestEveryEventTypeEndToEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		keys, _ := newKeys(t)
		sv := newServer(t, s, keys)
		admin := sv.token(auth.Principal{Admin: true})
		tenant := sv.token(auth.Principal{TenantKey: "acme", TenantName: "Acme"})

		all := newReceiver(t, nil, nil)
		deletedOnly := newReceiver(t, nil, nil)
		code, ep := sv.do("POST", "/webhooks/endpoints", admin, map[string]any{"url": all.URL(), "description": "everything"})
		if code != http.StatusCreated || ep["secret"] == nil {
			t.Fatalf("create endpoint: %d %v", code, ep)
		}
		secret := ep["secret"].(string)
		epID := ep["id"].(string)
		code, ep2 := sv.do("POST", "/webhooks/endpoints", admin, map[string]any{"url": deletedOnly.URL(), "eventTypes": []string{events.ConnectionDeleted}})
		if code != http.StatusCreated {
			t.Fatalf("create filtered endpoint: %d %v", code, ep2)
		}
		secret2 := ep2["secret"].(string)

		// connection.created through POST /connect with credentials.
		code, created := sv.do("POST", "/connect", tenant, map[string]any{"appKey": "sandbox-apikey", "credentials": map[string]string{"apiKey": "sandbox-good"}})
		if code != http.StatusCreated {
			t.Fatalf("POST /connect: %d %v", code, created)
		}
		connID := created["connection"].(map[string]any)["id"].(string)
		// connection.disconnected and connection.reconnected, recorded as the refresh worker does.
		conn, err := s.GetConnection(ctx, connID, "acme")
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range []string{events.ConnectionDisconnected, events.ConnectionReconnected} {
			err := s.InTx(ctx, func(q *store.Queries) error {
				_, err := events.Record(ctx, q, typ, "acme", connID, connect.View(conn), time.Now())
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		// connection.deleted through DELETE /connections/{id}.
		if code, body := sv.do("DELETE", "/connections/"+connID, tenant, nil); code != http.StatusOK {
			t.Fatalf("archive: %d %v", code, body)
		}

		d := webhook.NewDispatcher(webhook.Options{Store: s, Keys: keys, Log: quietLog()})
		runUntil(t, d, func() bool { return all.count() >= 4 && deletedOnly.count() >= 1 })

		stored, _, err := s.ListEvents(ctx, store.EventFilter{ConnectionID: connID})
		if err != nil || len(stored) != 4 {
			t.Fatalf("stored events %d %v", len(stored), err)
		}
		// ListEvents is newest first; the receiver must see them oldest first.
		wantTypes := []string{events.ConnectionCreated, events.ConnectionDisconnected, events.ConnectionReconnected, events.ConnectionDeleted}
		got := all.all()
		if len(got) != 4 {
			t.Fatalf("receiver got %d requests, want 4", len(got))
		}
		var cases []nodeCase
		for i, r := range got {
			ev := stored[len(stored)-1-i]
			if ev.Type != wantTypes[i] {
				t.Fatalf("event %d is %s, want %s", i, ev.Type, wantTypes[i])
			}
			if r.Header.Get("webhook-id") != ev.ID || !bytes.Equal(r.Body, ev.Payload) {
				t.Fatalf("request %d: webhook-id %q body %s; want %q and the stored payload %s", i, r.Header.Get("webhook-id"), r.Body, ev.ID, ev.Payload)
			}
			var p struct {
				Type      string `json:"type"`
				Timestamp string `json:"timestamp"`
				Data      struct {
					Connection map[string]any `json:"connection"`
				} `json:"data"`
			}
			if err := json.Unmarshal(r.Body, &p); err != nil || p.Type != wantTypes[i] || p.Data.Connection["id"] != connID {
				t.Fatalf("payload %s: %v", r.Body, err)
			}
			if _, err := time.Parse(time.RFC3339, p.Timestamp); err != nil {
				t.Fatalf("timestamp %q is not RFC 3339", p.Timestamp)
			}
			if bytes.Contains(r.Body, []byte("sandbox-good")) {
				t.Fatal("a credential reached the webhook payload")
			}
			if r.Header.Get("User-Agent") != webhook.UserAgent || len(signatures(r.Header)) != 1 {
				t.Fatalf("headers %v", r.Header)
			}
			wh, _ := standardwebhooks.NewWebhook(secret)
			if err := wh.Verify(r.Body, r.Header); err != nil {
				t.Fatalf("request %d: official Go verifier: %v", i, err)
			}
			cases = append(cases, caseOf(secret, r))
		}
		filtered := deletedOnly.all()
		if len(filtered) != 1 || !bytes.Contains(filtered[0].Body, []byte(`"connection.deleted"`)) {
			t.Fatalf("the deleted-only endpoint got %d requests", len(filtered))
		}
		cases = append(cases, caseOf(secret2, filtered[0]))
		// A control the verifier must refuse: the right headers over a changed body.
		tampered := caseOf(secret, got[0])
		tampered.Body = strings.Replace(tampered.Body, "connection.created", "connection.deleted", 1)
		wrongKey := caseOf(secret2, got[0])
		cases = append(cases, tampered, wrongKey)

		// Rotation: the new secret signs next to the old one while the grace lasts.
		code, rotated := sv.do("POST", "/webhooks/endpoints/"+epID+"/rotate-secret", admin, map[string]any{"graceSeconds": 3600})
		if code != http.StatusOK || rotated["secret"] == nil || rotated["secret"] == secret {
			t.Fatalf("rotate: %d %v", code, rotated)
		}
		newSecret := rotated["secret"].(string)
		if n := len(rotated["secrets"].([]any)); n != 2 {
			t.Fatalf("%d secrets after rotation, want 2", n)
		}
		code, _ = sv.do("POST", "/connect", tenant, map[string]any{"appKey": "sandbox-apikey", "credentials": map[string]string{"apiKey": "sandbox-good"}})
		if code != http.StatusCreated {
			t.Fatalf("second connection: %d", code)
		}
		runUntil(t, d, func() bool { return all.count() >= 5 })
		last := all.all()[4]
		if sigs := signatures(last.Header); len(sigs) != 2 {
			t.Fatalf("after rotation webhook-signature is %q, want two signatures", last.Header.Get("webhook-signature"))
		}
		for _, sec := range []string{secret, newSecret} {
			wh, _ := standardwebhooks.NewWebhook(sec)
			if err := wh.Verify(last.Body, last.Header); err != nil {
				t.Fatalf("official Go verifier after rotation: %v", err)
			}
		}
		cases = append(cases, caseOf(secret, last), caseOf(newSecret, last))

		errs := nodeVerify(t, cases)
		n := len(cases)
		for i, e := range errs {
			control := i == n-4 || i == n-3
			switch {
			case control && e == "":
				t.Errorf("node case %d: the npm verifier accepted a forged request", i)
			case !control && e != "":
				t.Errorf("node case %d: the npm verifier refused: %s", i, e)
			}
		}
	})
}
