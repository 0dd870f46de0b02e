package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hitchdev/hitch/internal/client/clienttest"
	"github.com/hitchdev/hitch/internal/webhook"
)

// webhooksReceiver is a real endpoint that records requests and answers
// with the status set last (204 at first).
type webhooksReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	got    []http.Header
}

func newWebhooksReceiver(t *testing.T) *webhooksReceiver {
	t.Helper()
	rc := &webhooksReceiver{status: http.StatusNoContent}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.got = append(rc.got, r.Header.Clone())
		st := rc.status
		rc.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *webhooksReceiver) answer(status int) {
	rc.mu.Lock()
	rc.status = status
	rc.mu.Unlock()
}

func (rc *webhooksReceiver) requests() []http.Header {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]http.Header(nil), rc.got...)
}

var (
	webhooksSecretRe   = regexp.MustCompile(`value="(whsec_[A-Za-z0-9+/=]+)"`)
	webhooksDeliveryRe = regexp.MustCompile(`href="(/console/webhooks/whe_[A-Za-z0-9_-]+/deliveries/whd_[A-Za-z0-9_-]+)"`)
)

// webhooksCreate adds an endpoint through the console and returns its
// detail page (with the one-time secret) and the secret.
func webhooksCreate(t *testing.T, srv *clienttest.Server, b *clienttest.Browser, endpoint string, events ...string) (clienttest.Page, string) {
	t.Helper()
	form := appsGet(t, b, srv.URL+"/console/webhooks/new", http.StatusOK)
	vals := url.Values{"url": {endpoint}, "description": {"Test backend"}, "events": events, "csrf": {form.CSRF()}}
	p := appsPost(t, b, srv.URL+"/console/webhooks/new", vals, http.StatusOK)
	if !strings.Contains(p.URL, "/console/webhooks/whe_") {
		t.Fatalf("creating landed on %s", p.URL)
	}
	m := webhooksSecretRe.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatal("the new endpoint's page shows no signing secret")
	}
	return p, m[1]
}

func TestWebhooksCreateShowsSecretOnce(t *testing.T) {
	srv, b := appsServer(t)
	empty := appsGet(t, b, srv.URL+"/console/webhooks", http.StatusOK)
	if !strings.Contains(empty.Body, "No webhook endpoints yet") || !strings.Contains(empty.Body, "Standard Webhooks") {
		t.Fatal("the empty list does not explain webhooks")
	}
	form := appsGet(t, b, srv.URL+"/console/webhooks/new", http.StatusOK)
	for _, typ := range []string{"connection.created", "connection.deleted", "connection.disconnected", "connection.reconnected"} {
		if !strings.Contains(form.Body, `value="`+typ+`"`) {
			t.Fatalf("the form has no checkbox for %s", typ)
		}
	}

	p, secret := webhooksCreate(t, srv, b, "https://hooks.example.com/in", "connection.created", "connection.deleted")
	if !strings.Contains(p.Body, "Signing secret — copy it now, it is not shown again") || webhook.CheckSecret(secret) != nil {
		t.Fatalf("secret %q shown without its label, or malformed", secret)
	}
	again := appsGet(t, b, p.URL, http.StatusOK)
	if strings.Contains(again.Body, secret) || strings.Contains(again.Body, "whsec_") {
		t.Fatal("the secret is shown again on reload")
	}
	if !strings.Contains(again.Body, "Test backend") || !strings.Contains(again.Body, `value="connection.created" checked`) ||
		strings.Contains(again.Body, `value="connection.reconnected" checked`) {
		t.Fatal("the detail page does not show the saved settings")
	}

	list := appsGet(t, b, srv.URL+"/console/webhooks", http.StatusOK)
	for _, want := range []string{"https://hooks.example.com/in", "Test backend", "connection.created", "connection.deleted", "Enabled"} {
		if !strings.Contains(list.Body, want) {
			t.Fatalf("the list lacks %q", want)
		}
	}
	if strings.Contains(list.Body, secret) {
		t.Fatal("the list shows the secret")
	}

	bad := appsPost(t, b, srv.URL+"/console/webhooks/new", url.Values{"url": {"ftp://hooks.example.com/in"}, "description": {"kept"}, "csrf": {list.CSRF()}}, http.StatusUnprocessableEntity)
	if !strings.Contains(bad.Body, "must use http or https") || !strings.Contains(bad.Body, `value="kept"`) {
		t.Fatal("a bad URL: no message beside the field, or the form lost its values")
	}
	badType := appsPost(t, b, srv.URL+"/console/webhooks/new", url.Values{"url": {"https://x.example/in"}, "events": {"connection.nope"}, "csrf": {list.CSRF()}}, http.StatusUnprocessableEntity)
	if !strings.Contains(badType.Body, "eventTypes may hold only") {
		t.Fatal("an unknown event type was not refused")
	}
	forged := appsPost(t, b, srv.URL+"/console/webhooks/new", url.Values{"url": {"https://x.example/in"}}, http.StatusForbidden)
	if !strings.Contains(forged.Body, "Not allowed") {
		t.Fatal("a post without a CSRF token is not a friendly 403")
	}
	if eps, _, _ := (webhook.NewService(webhook.Options{Store: srv.Store, Keys: srv.Keys})).ListEndpoints(context.Background(), 10, ""); len(eps) != 1 {
		t.Fatalf("%d endpoints stored, want 1", len(eps))
	}
	appsGet(t, b, srv.URL+"/console/webhooks/whe_nope", http.StatusNotFound)
	appsGet(t, b, srv.URL+"/console/webhooks?cursor=%21%21", http.StatusBadRequest)
}

func TestWebhooksUpdateAndRotate(t *testing.T) {
	srv, b := appsServer(t)
	p, first := webhooksCreate(t, srv, b, "https://hooks.example.com/in")
	detail := p.URL

	saved := appsPost(t, b, detail, url.Values{
		"url": {"https://hooks.example.com/v2"}, "description": {"Second"}, "events": {"connection.disconnected"},
		"csrf": {p.CSRF()},
	}, http.StatusOK)
	if !strings.Contains(saved.Body, "Endpoint saved and disabled") || !strings.Contains(saved.Body, "This endpoint is disabled") ||
		!strings.Contains(saved.Body, `value="connection.disconnected" checked`) || !strings.Contains(saved.Body, "https://hooks.example.com/v2") {
		t.Fatal("saving without the enabled box did not update and disable the endpoint")
	}
	list := appsGet(t, b, srv.URL+"/console/webhooks", http.StatusOK)
	if !strings.Contains(list.Body, "Disabled") || !strings.Contains(list.Body, "disabled by an admin") {
		t.Fatal("the list does not show the disabled state with its reason")
	}
	on := appsPost(t, b, detail, url.Values{"url": {"https://hooks.example.com/v2"}, "enabled": {"true"}, "csrf": {p.CSRF()}}, http.StatusOK)
	if !strings.Contains(on.Body, "saved and enabled") || strings.Contains(on.Body, "This endpoint is disabled") ||
		regexp.MustCompile(`value="connection\.[a-z]+" checked`).MatchString(on.Body) {
		t.Fatal("enabling again did not take")
	}
	bad := appsPost(t, b, detail, url.Values{"url": {"not a url"}, "enabled": {"true"}, "csrf": {p.CSRF()}}, http.StatusUnprocessableEntity)
	if !strings.Contains(bad.Body, "The endpoint URL") || !strings.Contains(bad.Body, `value="not a url"`) {
		t.Fatal("an invalid URL on update: no message or the value lost")
	}

	rotated := appsPost(t, b, detail+"/rotate", url.Values{"csrf": {p.CSRF()}}, http.StatusOK)
	m := webhooksSecretRe.FindStringSubmatch(rotated.Body)
	if m == nil || m[1] == first || !strings.Contains(rotated.Body, "keeps signing for 24 hours") {
		t.Fatal("rotating did not show a new secret once with the overlap")
	}
	if !strings.Contains(rotated.Body, "Retiring") || !strings.Contains(rotated.Body, "Current") {
		t.Fatal("the secrets list does not show the retiring secret")
	}
	if again := appsGet(t, b, detail, http.StatusOK); strings.Contains(again.Body, m[1]) || strings.Contains(again.Body, first) {
		t.Fatal("a secret is shown again on reload")
	}
	appsPost(t, b, detail+"/rotate", url.Values{}, http.StatusForbidden)
}

func TestWebhooksDeliveryLogAndRedeliver(t *testing.T) {
	srv, b := appsServer(t)
	ctx := context.Background()
	rc := newWebhooksReceiver(t)
	p, _ := webhooksCreate(t, srv, b, rc.URL+"/hooks")
	detail := p.URL
	if !strings.Contains(p.Body, "No deliveries yet") {
		t.Fatal("a new endpoint's log has no empty state")
	}

	status, out := appsAPI(t, http.MethodPost, srv.URL+"/connect", srv.Token("t1"),
		map[string]any{"appKey": "sandbox-apikey", "credentials": map[string]string{"apiKey": "sandbox-good"}})
	if status != http.StatusCreated {
		t.Fatalf("POST /connect: %d %v", status, out)
	}
	connID := out["connection"].(map[string]any)["id"].(string)
	// The dispatcher does not run in tests: fan the event out as it would.
	if n, err := webhook.NewDispatcher(webhook.Options{Store: srv.Store, Keys: srv.Keys}).FanOut(ctx); err != nil || n == 0 {
		t.Fatalf("FanOut: %d %v", n, err)
	}

	log := appsGet(t, b, detail, http.StatusOK)
	for _, want := range []string{"connection.created", connID, "Pending", `href="/console/connections/` + connID + `"`} {
		if !strings.Contains(log.Body, want) {
			t.Fatalf("the delivery log lacks %q", want)
		}
	}
	m := webhooksDeliveryRe.FindStringSubmatch(log.Body)
	if m == nil {
		t.Fatal("the delivery log links to no delivery")
	}
	delivery := srv.URL + m[1]
	if f := appsGet(t, b, detail+"?status=delivered", http.StatusOK); !strings.Contains(f.Body, "No deliveries with this status") {
		t.Fatal("the status filter does not filter")
	}

	d := appsGet(t, b, delivery, http.StatusOK)
	if !strings.Contains(d.Body, "No attempts yet") || !strings.Contains(d.Body, "Redeliver now") || !strings.Contains(d.Body, `&#34;tenantKey&#34;: &#34;t1&#34;`) {
		t.Fatal("the delivery page: attempts, redeliver button or payload missing")
	}

	ok := appsPost(t, b, delivery+"/redeliver", url.Values{"csrf": {d.CSRF()}}, http.StatusOK)
	if !strings.Contains(ok.Body, "Redelivered: the endpoint answered 204.") || !strings.Contains(ok.Body, "Delivered") {
		t.Fatal("redelivering to a 204 receiver did not report success")
	}
	reqs := rc.requests()
	if len(reqs) != 1 || !strings.HasPrefix(reqs[0].Get("webhook-signature"), "v1,") || reqs[0].Get("webhook-id") == "" {
		t.Fatalf("the receiver got %d requests, signature %q", len(reqs), reqs)
	}

	rc.answer(http.StatusInternalServerError)
	failed := appsPost(t, b, delivery+"/redeliver", url.Values{"csrf": {d.CSRF()}}, http.StatusOK)
	if !strings.Contains(failed.Body, "Redelivery failed: the endpoint answered 500.") {
		t.Fatal("a failed redelivery was not reported")
	}
	if strings.Count(failed.Body, "c-wh-http--success") != 1 || strings.Count(failed.Body, "c-wh-http--danger") != 1 {
		t.Fatal("the attempts table does not list both attempts")
	}
	if len(rc.requests()) != 2 {
		t.Fatalf("the receiver got %d requests, want 2", len(rc.requests()))
	}
	if f := appsGet(t, b, detail+"?status=delivered", http.StatusOK); !strings.Contains(f.Body, m[1]) {
		t.Fatal("the delivered filter does not list the delivery")
	}

	// Another endpoint's path does not reach this delivery.
	other, _ := webhooksCreate(t, srv, b, "https://other.example/in")
	wrong := other.URL + m[1][strings.Index(m[1], "/deliveries/"):]
	appsGet(t, b, wrong, http.StatusNotFound)
	appsPost(t, b, wrong+"/redeliver", url.Values{"csrf": {d.CSRF()}}, http.StatusNotFound)
	appsPost(t, b, delivery+"/redeliver", url.Values{}, http.StatusForbidden)
	if len(rc.requests()) != 2 {
		t.Fatal("a refused redelivery still sent")
	}
}
