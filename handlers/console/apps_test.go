package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hitchdev/hitch/internal/appsettings"
	"github.com/hitchdev/hitch/internal/client/clienttest"
)

// appsServer is a server with a signed-in admin browser.
func appsServer(t *testing.T) (*clienttest.Server, *clienttest.Browser) {
	t.Helper()
	srv := clienttest.StartWith(t, clienttest.Options{})
	b := clienttest.NewBrowser()
	srv.SignIn(b, "apps@example.com")
	return srv, b
}

func appsGet(t *testing.T, b *clienttest.Browser, u string, want int) clienttest.Page {
	t.Helper()
	p, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != want {
		t.Fatalf("GET %s: HTTP %d, want %d\n%s", u, p.Status, want, p.Body)
	}
	return p
}

func appsPost(t *testing.T, b *clienttest.Browser, u string, vals url.Values, want int) clienttest.Page {
	t.Helper()
	p, err := b.PostForm(u, vals)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != want {
		t.Fatalf("POST %s: HTTP %d, want %d\n%s", u, p.Status, want, p.Body)
	}
	return p
}

var appsRowRe = regexp.MustCompile(`<a href="/console/apps/([a-z0-9-]+)">`)

// appsRows lists the app keys the Apps table links to, in order.
func appsRows(body string) []string {
	var keys []string
	for _, m := range appsRowRe.FindAllStringSubmatch(body, -1) {
		keys = append(keys, m[1])
	}
	return keys
}

func appsHas(keys []string, key string) bool {
	for _, k := range keys {
		if k == key {
			return true
		}
	}
	return false
}

// appsAPI calls the public API with a JSON body (nil: none) and decodes the answer.
func appsAPI(t *testing.T, method, u, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// appsPublic returns GET /apps as key → configured.
func appsPublic(t *testing.T, srv *clienttest.Server) map[string]bool {
	t.Helper()
	status, out := appsAPI(t, http.MethodGet, srv.URL+"/apps", "", nil)
	if status != http.StatusOK {
		t.Fatalf("GET /apps: HTTP %d %v", status, out)
	}
	items, _ := out["items"].([]any)
	m := map[string]bool{}
	for _, it := range items {
		app := it.(map[string]any)
		m[app["key"].(string)], _ = app["configured"].(bool)
	}
	return m
}

func apiErrorCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func TestAppsListFiltersAndPages(t *testing.T) {
	srv, b := appsServer(t)
	ctx := context.Background()
	svc := &appsettings.Service{Store: srv.Store, Catalog: srv.Catalog, Keys: srv.Keys}
	if err := svc.SetEnabled(ctx, "pipedrive", false); err != nil {
		t.Fatal(err)
	}

	all := appsGet(t, b, srv.URL+"/console/apps", http.StatusOK)
	first := appsRows(all.Body)
	if len(first) != 50 {
		t.Fatalf("first page has %d apps, want 50", len(first))
	}
	total := srv.Catalog.Len()
	if !strings.Contains(all.Body, "page 1 of 2") || !strings.Contains(all.Body, `href="/console/apps?page=2"`) {
		t.Fatalf("no pager to page 2 of %d apps", total)
	}
	second := appsRows(appsGet(t, b, srv.URL+"/console/apps?page=2", http.StatusOK).Body)
	if len(first)+len(second) != total || appsHas(second, first[0]) {
		t.Fatalf("pages hold %d+%d apps, catalog %d", len(first), len(second), total)
	}
	if !strings.Contains(all.Body, "Needs OAuth client") || !strings.Contains(all.Body, "Disabled") {
		t.Fatal("the list shows no client or availability badges")
	}

	disabled := appsRows(appsGet(t, b, srv.URL+"/console/apps?state=disabled", http.StatusOK).Body)
	if len(disabled) != 1 || disabled[0] != "pipedrive" {
		t.Fatalf("state=disabled lists %v, want [pipedrive]", disabled)
	}
	enabled := appsGet(t, b, srv.URL+"/console/apps?state=enabled", http.StatusOK)
	if appsHas(appsRows(enabled.Body), "pipedrive") || !strings.Contains(enabled.Body, fmt.Sprintf("%d apps", total-1)) {
		t.Fatal("state=enabled counts or lists the disabled app")
	}
	// Filters carry over to the next page's link.
	if !strings.Contains(enabled.Body, `href="/console/apps?page=2&amp;state=enabled"`) {
		t.Fatal("the next page link drops the state filter")
	}

	needs := appsRows(appsGet(t, b, srv.URL+"/console/apps?state=needs-client", http.StatusOK).Body)
	if !appsHas(needs, "hubspot") || !appsHas(needs, "pipedrive") || appsHas(needs, "sandbox-oauth") || appsHas(needs, "sandbox-apikey") {
		t.Fatalf("state=needs-client lists %v", needs)
	}

	found := appsRows(appsGet(t, b, srv.URL+"/console/apps?q=hubspot", http.StatusOK).Body)
	if len(found) == 0 || found[0] != "hubspot" {
		t.Fatalf("q=hubspot ranks %v", found)
	}
	sandbox := appsRows(appsGet(t, b, srv.URL+"/console/apps?category=sandbox", http.StatusOK).Body)
	if len(sandbox) != 2 || !appsHas(sandbox, "sandbox-oauth") || !appsHas(sandbox, "sandbox-apikey") {
		t.Fatalf("category=sandbox lists %v", sandbox)
	}
	none := appsGet(t, b, srv.URL+"/console/apps?q=zzqqxxnothing", http.StatusOK)
	if len(appsRows(none.Body)) != 0 || !strings.Contains(none.Body, "No apps match") {
		t.Fatal("a search matching nothing shows no empty state")
	}
}

func TestAppsConnectionCounts(t *testing.T) {
	srv, b := appsServer(t)
	status, out := appsAPI(t, http.MethodPost, srv.URL+"/connect", srv.Token("t1"),
		map[string]any{"appKey": "sandbox-apikey", "credentials": map[string]string{"apiKey": "sandbox-good"}})
	if status != http.StatusCreated {
		t.Fatalf("POST /connect: %d %v", status, out)
	}
	p := appsGet(t, b, srv.URL+"/console/apps?category=sandbox", http.StatusOK)
	if !strings.Contains(p.Body, `<span class="c-app-num">1</span>`) {
		t.Fatal("the list does not count the live connection")
	}
	d := appsGet(t, b, srv.URL+"/console/apps/sandbox-apikey", http.StatusOK)
	if !strings.Contains(d.Body, "1 active") || !strings.Contains(d.Body, `href="/console/connections?app=sandbox-apikey"`) {
		t.Fatal("the detail page does not show or link the connections")
	}
}

func TestAppsEnableDisable(t *testing.T) {
	srv, b := appsServer(t)
	token := srv.Token("t1")
	detail := appsGet(t, b, srv.URL+"/console/apps/sandbox-apikey", http.StatusOK)
	if !strings.Contains(detail.Body, "Turn off") || strings.Contains(detail.Body, ">OAuth client<") {
		t.Fatal("detail of an enabled API-key app: no Turn off button, or an OAuth client panel")
	}
	if !strings.Contains(detail.Body, "Fields the user fills in") || !strings.Contains(detail.Body, "API key") {
		t.Fatal("the API-key app's fields are not described")
	}

	off := appsPost(t, b, srv.URL+"/console/apps/sandbox-apikey/enabled", url.Values{"enabled": {"false"}, "csrf": {detail.CSRF()}}, http.StatusOK)
	if !strings.HasSuffix(off.URL, "/console/apps/sandbox-apikey") || !strings.Contains(off.Body, "is turned off") || !strings.Contains(off.Body, "Turn on") {
		t.Fatalf("after turning off: %s", off.URL)
	}
	if _, ok := appsPublic(t, srv)["sandbox-apikey"]; ok {
		t.Fatal("GET /apps still offers the disabled app")
	}
	status, out := appsAPI(t, http.MethodPost, srv.URL+"/connect", token, map[string]any{"appKey": "sandbox-apikey"})
	if status != http.StatusConflict || apiErrorCode(out) != "app_disabled" {
		t.Fatalf("connect session for a disabled app: %d %v", status, out)
	}
	status, out = appsAPI(t, http.MethodPost, srv.URL+"/connect", token,
		map[string]any{"appKey": "sandbox-apikey", "credentials": map[string]string{"apiKey": "sandbox-good"}})
	if status != http.StatusConflict || apiErrorCode(out) != "app_disabled" {
		t.Fatalf("credentials for a disabled app: %d %v", status, out)
	}
	if rows := appsRows(appsGet(t, b, srv.URL+"/console/apps?state=disabled", http.StatusOK).Body); len(rows) != 1 || rows[0] != "sandbox-apikey" {
		t.Fatalf("state=disabled lists %v", rows)
	}

	appsPost(t, b, srv.URL+"/console/apps/sandbox-apikey/enabled", url.Values{"enabled": {"true"}, "csrf": {off.CSRF()}}, http.StatusOK)
	if _, ok := appsPublic(t, srv)["sandbox-apikey"]; !ok {
		t.Fatal("GET /apps leaves out the app turned on again")
	}
	status, out = appsAPI(t, http.MethodPost, srv.URL+"/connect", token,
		map[string]any{"appKey": "sandbox-apikey", "credentials": map[string]string{"apiKey": "sandbox-good"}})
	if status != http.StatusCreated {
		t.Fatalf("connect after turning on: %d %v", status, out)
	}

	bad := appsPost(t, b, srv.URL+"/console/apps/sandbox-apikey/enabled", url.Values{"enabled": {"maybe"}, "csrf": {off.CSRF()}}, http.StatusBadRequest)
	if !strings.Contains(bad.Body, "enabled must be true or false") {
		t.Fatal("a bad enabled value has no message")
	}
}

func TestAppsClientIsSealedAndNeverShown(t *testing.T) {
	srv, b := appsServer(t)
	ctx := context.Background()
	const secret = "hubspot-plain-secret-4711"
	if configured, ok := appsPublic(t, srv)["hubspot"]; !ok || configured {
		t.Fatalf("hubspot before: listed %v configured %v", ok, configured)
	}
	detail := appsGet(t, b, srv.URL+"/console/apps/hubspot", http.StatusOK)
	for _, want := range []string{"Needs OAuth client", srv.URL + "/oauth/callback", `data-copy="app-redirect-uri"`, "crm.objects.contacts.read", "HITCH_APP_HUBSPOT_CLIENT_ID"} {
		if !strings.Contains(detail.Body, want) {
			t.Fatalf("hubspot detail lacks %q", want)
		}
	}

	saved := appsPost(t, b, srv.URL+"/console/apps/hubspot/client",
		url.Values{"client_id": {"hub-client-1"}, "client_secret": {secret}, "csrf": {detail.CSRF()}}, http.StatusOK)
	if !strings.Contains(saved.Body, "Saved the OAuth client") || !strings.Contains(saved.Body, "hub-client-1") ||
		!strings.Contains(saved.Body, "Leave empty to keep the stored secret") || !strings.Contains(saved.Body, "Saved in the console") {
		t.Fatal("after saving, the page does not show the console client")
	}
	if strings.Contains(saved.Body, secret) {
		t.Fatal("the page shows the client secret")
	}
	if again := appsGet(t, b, srv.URL+"/console/apps/hubspot", http.StatusOK); strings.Contains(again.Body, secret) || !strings.Contains(again.Body, ">Ready<") {
		t.Fatal("reloaded page: secret shown or not Ready")
	}
	if !appsPublic(t, srv)["hubspot"] {
		t.Fatal("GET /apps: hubspot not configured after saving a client")
	}
	row, err := srv.Store.GetAppSetting(ctx, "hubspot")
	if err != nil {
		t.Fatal(err)
	}
	if row.ClientID != "hub-client-1" || len(row.ClientSecret) == 0 || bytes.Contains(row.ClientSecret, []byte(secret)) {
		t.Fatalf("stored row: id %q, secret sealed? %v", row.ClientID, !bytes.Contains(row.ClientSecret, []byte(secret)))
	}
	if plain, err := srv.Keys.Open(row.ClientSecret, []byte("hubspot")); err != nil || string(plain) != secret {
		t.Fatalf("the sealed secret does not open to the saved one: %v", err)
	}

	// An empty secret keeps the stored one.
	kept := appsPost(t, b, srv.URL+"/console/apps/hubspot/client",
		url.Values{"client_id": {"hub-client-2"}, "client_secret": {""}, "csrf": {saved.CSRF()}}, http.StatusOK)
	if !strings.Contains(kept.Body, "the stored secret was kept") || !strings.Contains(kept.Body, "hub-client-2") {
		t.Fatal("saving without a secret did not keep it")
	}
	svc := &appsettings.Service{Store: srv.Store, Catalog: srv.Catalog, Keys: srv.Keys}
	app, _, err := svc.Resolve(ctx, "hubspot")
	if err != nil || app.Auth.ClientID != "hub-client-2" || app.Auth.ClientSecret != secret {
		t.Fatalf("resolved client %q (secret kept: %v): %v", app.Auth.ClientID, app.Auth.ClientSecret == secret, err)
	}

	// Refused saves come back as the form with the message beside the field.
	noID := appsPost(t, b, srv.URL+"/console/apps/hubspot/client",
		url.Values{"client_id": {" "}, "client_secret": {"another-secret-99"}, "csrf": {kept.CSRF()}}, http.StatusUnprocessableEntity)
	if !strings.Contains(noID.Body, "Enter the client ID") || strings.Contains(noID.Body, "another-secret-99") {
		t.Fatal("an empty client ID: no message, or the typed secret echoed")
	}
	noSecret := appsPost(t, b, srv.URL+"/console/apps/pipedrive/client",
		url.Values{"client_id": {"pd-client"}, "client_secret": {""}, "csrf": {kept.CSRF()}}, http.StatusUnprocessableEntity)
	if !strings.Contains(noSecret.Body, "Enter the client secret") || !strings.Contains(noSecret.Body, `value="pd-client"`) {
		t.Fatal("a first save without a secret: no message, or the client ID lost")
	}
	if _, err := srv.Store.GetAppSetting(ctx, "pipedrive"); err == nil {
		t.Fatal("a refused save stored a row")
	}
	notOAuth := appsPost(t, b, srv.URL+"/console/apps/sandbox-apikey/client",
		url.Values{"client_id": {"x"}, "client_secret": {"y"}, "csrf": {kept.CSRF()}}, http.StatusBadRequest)
	if !strings.Contains(notOAuth.Body, "does not use an OAuth client") {
		t.Fatal("a client for an API-key app was not refused")
	}

	removed := appsPost(t, b, srv.URL+"/console/apps/hubspot/client/delete", url.Values{"csrf": {kept.CSRF()}}, http.StatusOK)
	if !strings.Contains(removed.Body, "Removed the console") || !strings.Contains(removed.Body, "Needs OAuth client") {
		t.Fatal("after removing, the page still shows a client")
	}
	if appsPublic(t, srv)["hubspot"] {
		t.Fatal("GET /apps: hubspot still configured after removing the client")
	}
}

func TestAppsUnknownAndCSRF(t *testing.T) {
	srv, b := appsServer(t)
	p := appsGet(t, b, srv.URL+"/console/apps/no-such-app", http.StatusNotFound)
	if !strings.Contains(p.Body, "Not found") || !strings.Contains(p.Body, "no-such-app") {
		t.Fatal("the unknown app page is not a friendly 404")
	}
	appsPost(t, b, srv.URL+"/console/apps/no-such-app/enabled", url.Values{"enabled": {"false"}, "csrf": {p.CSRF()}}, http.StatusNotFound)

	refused := appsPost(t, b, srv.URL+"/console/apps/hubspot/enabled", url.Values{"enabled": {"false"}}, http.StatusForbidden)
	if !strings.Contains(refused.Body, "Not allowed") {
		t.Fatal("a post without a CSRF token is not a friendly 403")
	}
	appsPost(t, b, srv.URL+"/console/apps/hubspot/client", url.Values{"client_id": {"x"}, "client_secret": {"y"}, "csrf": {"forged"}}, http.StatusForbidden)
	if _, ok := appsPublic(t, srv)["hubspot"]; !ok {
		t.Fatal("a refused post turned the app off")
	}
	if _, err := srv.Store.GetAppSetting(context.Background(), "hubspot"); err == nil {
		t.Fatal("a refused post stored settings")
	}
}
