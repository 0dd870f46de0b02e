package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hitchdev/hitch/internal/store"
	"github.com/hitchdev/hitch/internal/store/storetest"
	"github.com/hitchdev/hitch/internal/webhook"
)

func TestWebhookRoutesAreAdminOnly(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.FlavorSQLite))
	tenant := e.token("acme")
	routes := []struct{ method, path string }{
		{"GET", "/webhooks/endpoints"},
		{"POST", "/webhooks/endpoints"},
		{"GET", "/webhooks/endpoints/whe_x"},
		{"PATCH", "/webhooks/endpoints/whe_x"},
		{"DELETE", "/webhooks/endpoints/whe_x"},
		{"POST", "/webhooks/endpoints/whe_x/rotate-secret"},
		{"GET", "/webhooks/endpoints/whe_x/deliveries"},
		{"POST", "/webhooks/deliveries/whd_x/redeliver"},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			if r := e.do(rt.method, rt.path, tenant, `{}`); r.status != http.StatusForbidden || r.errCode(t) != "admin_required" {
				t.Fatalf("tenant token: %d %s", r.status, r.body)
			}
			if r := e.do(rt.method, rt.path, "", `{}`); r.status != http.StatusUnauthorized {
				t.Fatalf("no token: %d %s", r.status, r.body)
			}
		})
	}
}

func TestWebhookEndpointAPI(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		admin := e.admin()

		r := e.do("POST", "/webhooks/endpoints", admin, map[string]any{"url": "https://hooks.example/in", "description": "CRM sync", "eventTypes": []string{"connection.created"}})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		created := r.json(t)
		id, _ := created["id"].(string)
		secret, _ := created["secret"].(string)
		if !strings.HasPrefix(id, "whe_") || webhook.CheckSecret(secret) != nil || created["enabled"] != true ||
			created["source"] != "api" || created["description"] != "CRM sync" || len(created["secrets"].([]any)) != 1 {
			t.Fatalf("created %v", created)
		}
		// The secret is shown once: never by get or list.
		for _, path := range []string{"/webhooks/endpoints/" + id, "/webhooks/endpoints"} {
			r := e.do("GET", path, admin, nil)
			if r.status != http.StatusOK || strings.Contains(string(r.body), strings.TrimPrefix(secret, "whsec_")) || strings.Contains(string(r.body), `"secret"`) {
				t.Fatalf("GET %s: %d %s", path, r.status, r.body)
			}
		}
		list := e.do("GET", "/webhooks/endpoints?limit=1", admin, nil).json(t)
		if items := list["items"].([]any); len(items) != 1 || list["cursor"] != nil {
			t.Fatalf("list %v", list)
		}

		// PATCH changes only what it names; eventTypes [] (or null) means every type.
		r = e.do("PATCH", "/webhooks/endpoints/"+id, admin, map[string]any{"eventTypes": []string{}, "url": "https://hooks.example/v2"})
		if got := r.json(t); r.status != http.StatusOK || got["url"] != "https://hooks.example/v2" || len(got["eventTypes"].([]any)) != 0 || got["description"] != "CRM sync" {
			t.Fatalf("patch: %d %s", r.status, r.body)
		}
		if r := e.do("PATCH", "/webhooks/endpoints/"+id, admin, map[string]any{"eventTypes": nil}); r.status != http.StatusOK {
			t.Fatalf("patch null types: %d %s", r.status, r.body)
		}

		rot := e.do("POST", "/webhooks/endpoints/"+id+"/rotate-secret", admin, nil)
		rotated := rot.json(t)
		if rot.status != http.StatusOK || rotated["secret"] == secret || webhook.CheckSecret(rotated["secret"].(string)) != nil || len(rotated["secrets"].([]any)) != 2 {
			t.Fatalf("rotate: %d %s", rot.status, rot.body)
		}
		if r := e.do("POST", "/webhooks/endpoints/"+id+"/rotate-secret", admin, map[string]any{"graceSeconds": 0}); r.status != http.StatusOK || len(r.json(t)["secrets"].([]any)) != 1 {
			t.Fatalf("rotate without grace: %d %s", r.status, r.body)
		}

		// DELETE disables (idempotent) and PATCH enabled:true brings it back.
		for range 2 {
			r := e.do("DELETE", "/webhooks/endpoints/"+id, admin, nil)
			if got := r.json(t); r.status != http.StatusOK || got["enabled"] != false || got["disabledAt"] == nil || got["disabledReason"] == nil {
				t.Fatalf("delete: %d %s", r.status, r.body)
			}
		}
		if r := e.do("PATCH", "/webhooks/endpoints/"+id, admin, map[string]any{"enabled": true}); r.status != http.StatusOK || r.json(t)["enabled"] != true {
			t.Fatalf("enable: %d %s", r.status, r.body)
		}

		bad := []struct {
			method, path string
			body         any
			status       int
			code         string
		}{
			{"POST", "/webhooks/endpoints", map[string]any{"url": "ftp://x.example"}, 400, "invalid_url"},
			{"POST", "/webhooks/endpoints", map[string]any{"url": "https://x.example", "eventTypes": []string{"nope"}}, 400, "invalid_event_type"},
			{"POST", "/webhooks/endpoints", map[string]any{"url": "https://x.example", "secret": "whsec_x"}, 400, "invalid_secret"},
			{"POST", "/webhooks/endpoints", map[string]any{"url": "https://x.example", "extra": 1}, 400, "invalid_json"},
			{"POST", "/webhooks/endpoints/" + id + "/rotate-secret", map[string]any{"graceSeconds": -1}, 400, "invalid_grace"},
			{"GET", "/webhooks/endpoints/whe_missing", nil, 404, "endpoint_not_found"},
			{"PATCH", "/webhooks/endpoints/whe_missing", map[string]any{"enabled": false}, 404, "endpoint_not_found"},
			{"DELETE", "/webhooks/endpoints/whe_missing", nil, 404, "endpoint_not_found"},
			{"GET", "/webhooks/endpoints/whe_missing/deliveries", nil, 404, "endpoint_not_found"},
			{"GET", "/webhooks/endpoints/" + id + "/deliveries?status=odd", nil, 400, "invalid_query"},
			{"GET", "/webhooks/endpoints?cursor=!!", nil, 400, "invalid_cursor"},
			{"POST", "/webhooks/deliveries/whd_missing/redeliver", nil, 404, "delivery_not_found"},
		}
		for _, b := range bad {
			r := e.do(b.method, b.path, admin, b.body)
			if r.status != b.status || r.errCode(t) != b.code {
				t.Errorf("%s %s: %d %s, want %d %s", b.method, b.path, r.status, r.body, b.status, b.code)
			}
		}
	})
}

func TestWebhookDeliveriesAndRedeliver(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		admin := e.admin()
		var answer atomic.Int32
		answer.Store(http.StatusInternalServerError)
		var lastID atomic.Value
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			lastID.Store(r.Header.Get("webhook-id"))
			w.WriteHeader(int(answer.Load()))
			_, _ = w.Write([]byte("receiver says hi"))
		}))
		t.Cleanup(rcv.Close)

		ep := e.do("POST", "/webhooks/endpoints", admin, map[string]any{"url": rcv.URL}).json(t)
		id := ep["id"].(string)
		conn := e.create(e.token("acme"), "sandbox-good")
		// Turn the connection.created event into a delivery, as the dispatcher does.
		if _, err := webhook.NewDispatcher(webhook.Options{Store: s, Log: nil}).FanOut(context.Background()); err != nil {
			t.Fatal(err)
		}
		list := e.do("GET", "/webhooks/endpoints/"+id+"/deliveries", admin, nil).json(t)
		items := list["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("deliveries %v", list)
		}
		d := items[0].(map[string]any)
		did := d["id"].(string)
		if d["status"] != "pending" || d["eventType"] != "connection.created" || d["connectionId"] != conn["id"] || len(d["attempts"].([]any)) != 0 {
			t.Fatalf("delivery %v", d)
		}

		r := e.do("POST", "/webhooks/deliveries/"+did+"/redeliver", admin, nil)
		got := r.json(t)
		if r.status != http.StatusOK || got["status"] != "pending" || got["lastStatusCode"] != float64(500) || len(got["attempts"].([]any)) != 1 {
			t.Fatalf("failed redelivery: %d %s", r.status, r.body)
		}
		a := got["attempts"].([]any)[0].(map[string]any)
		if a["statusCode"] != float64(500) || a["responseExcerpt"] != "receiver says hi" || a["error"] == nil || a["latencyMs"] == nil {
			t.Fatalf("attempt %v", a)
		}
		answer.Store(http.StatusOK)
		r = e.do("POST", "/webhooks/deliveries/"+did+"/redeliver", admin, nil)
		got = r.json(t)
		if r.status != http.StatusOK || got["status"] != "delivered" || got["deliveredAt"] == nil || len(got["attempts"].([]any)) != 2 {
			t.Fatalf("redelivery: %d %s", r.status, r.body)
		}
		if lastID.Load() != got["eventId"] {
			t.Fatalf("redelivery sent webhook-id %v, want the event id %v", lastID.Load(), got["eventId"])
		}
		if f := e.do("GET", "/webhooks/endpoints/"+id+"/deliveries?status=failed", admin, nil).json(t); len(f["items"].([]any)) != 0 {
			t.Fatalf("status filter: %v", f)
		}
		// A disabled endpoint is not redelivered to.
		e.do("DELETE", "/webhooks/endpoints/"+id, admin, nil)
		if r := e.do("POST", "/webhooks/deliveries/"+did+"/redeliver", admin, nil); r.status != http.StatusConflict || r.errCode(t) != "endpoint_disabled" {
			t.Fatalf("redeliver to a disabled endpoint: %d %s", r.status, r.body)
		}
	})
}
