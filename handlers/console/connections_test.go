package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/client/clienttest"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/events"
	"github.com/hitchdev/hitch/internal/store"
)

// connFixture is the connections every list test sees: two tenants, two
// apps, one disconnected with an error, one archived.
type connFixture struct {
	acmeCRM, acmeKey, globexCRM, globexOld store.Connection
}

// connSeed stores a connection (and its tenant) as the connect flow would.
func connSeed(t *testing.T, srv *clienttest.Server, c store.Connection) store.Connection {
	t.Helper()
	ctx := context.Background()
	if err := srv.Store.UpsertTenant(ctx, c.TenantKey, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if c.AuthType == "" {
		c.AuthType = "oauth2"
		if c.AppKey == "sandbox-apikey" {
			c.AuthType = "apiKey"
		}
	}
	if err := srv.Store.InsertConnection(ctx, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func connSeedFixture(t *testing.T, srv *clienttest.Server) connFixture {
	t.Helper()
	ctx := context.Background()
	if err := srv.Store.UpsertTenant(ctx, "acme", "Acme Inc", time.Now()); err != nil {
		t.Fatal(err)
	}
	var f connFixture
	f.acmeCRM = connSeed(t, srv, store.Connection{TenantKey: "acme", AppKey: "hubspot", Name: "Acme CRM"})
	f.acmeKey = connSeed(t, srv, store.Connection{TenantKey: "acme", AppKey: "sandbox-apikey", Name: "Acme Sandbox"})
	f.globexCRM = connSeed(t, srv, store.Connection{
		TenantKey: "globex", AppKey: "hubspot", Name: "Globex CRM", Disconnected: true,
		ErrorCode: "invalid_grant", ErrorMessage: "HubSpot says the refresh token was revoked.",
	})
	archived := time.Now().Add(-time.Hour)
	f.globexOld = connSeed(t, srv, store.Connection{TenantKey: "globex", AppKey: "sandbox-apikey", Name: "Globex Old", ArchivedAt: &archived})
	return f
}

// connSignedIn starts a server and a signed-in console browser.
func connSignedIn(t *testing.T) (*clienttest.Server, *clienttest.Browser) {
	t.Helper()
	srv := clienttest.StartWith(t, clienttest.Options{})
	b := clienttest.NewBrowser()
	srv.SignIn(b, "support@example.com")
	return srv, b
}

func connGet(t *testing.T, b *clienttest.Browser, u string) clienttest.Page {
	t.Helper()
	p, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func connPost(t *testing.T, b *clienttest.Browser, u string, form url.Values) clienttest.Page {
	t.Helper()
	p, err := b.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var connLinkRe = regexp.MustCompile(`<input[^>]*id="connect-link"[^>]*value="([^"]+)"`)

// connLink is the connect link a session page shows, "" when none.
func connLink(p clienttest.Page) string {
	m := connLinkRe.FindStringSubmatch(p.Body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// connStatus reads a session's status JSON.
func connStatus(t *testing.T, b *clienttest.Browser, sessionURL string) (status, connectionID string) {
	t.Helper()
	p := connGet(t, b, sessionURL+"/status")
	var out struct {
		Status       string `json:"status"`
		ConnectionID string `json:"connectionId"`
	}
	if p.Status != http.StatusOK {
		t.Fatalf("GET %s/status: HTTP %d: %s", sessionURL, p.Status, p.Body)
	}
	if err := json.Unmarshal([]byte(p.Body), &out); err != nil {
		t.Fatalf("status JSON: %v: %s", err, p.Body)
	}
	return out.Status, out.ConnectionID
}

func TestConnectionsListFilters(t *testing.T) {
	srv, b := connSignedIn(t)
	f := connSeedFixture(t, srv)
	all := []store.Connection{f.acmeCRM, f.acmeKey, f.globexCRM, f.globexOld}
	cases := []struct {
		name  string
		query url.Values
		want  []store.Connection
	}{
		{"no filter hides archived", nil, []store.Connection{f.acmeCRM, f.acmeKey, f.globexCRM}},
		{"tenant", url.Values{"tenant": {"acme"}}, []store.Connection{f.acmeCRM, f.acmeKey}},
		{"app", url.Values{"app": {"hubspot"}}, []store.Connection{f.acmeCRM, f.globexCRM}},
		{"disconnected", url.Values{"state": {"disconnected"}}, []store.Connection{f.globexCRM}},
		{"active", url.Values{"state": {"active"}}, []store.Connection{f.acmeCRM, f.acmeKey}},
		{"include archived", url.Values{"archived": {"1"}}, all},
		{"tenant with archived", url.Values{"tenant": {"globex"}, "archived": {"1"}}, []store.Connection{f.globexCRM, f.globexOld}},
		{"tenant and app", url.Values{"tenant": {"acme"}, "app": {"sandbox-apikey"}}, []store.Connection{f.acmeKey}},
		{"search tenant", url.Values{"q": {"GLOBEX"}}, []store.Connection{f.globexCRM}},
		{"search name", url.Values{"q": {"sandbox"}}, []store.Connection{f.acmeKey}},
		{"search id", url.Values{"q": {f.globexCRM.ID}}, []store.Connection{f.globexCRM}},
		{"no match", url.Values{"tenant": {"nobody"}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := srv.URL + "/console/connections"
			if len(tc.query) > 0 {
				u += "?" + tc.query.Encode()
			}
			p := connGet(t, b, u)
			if p.Status != http.StatusOK {
				t.Fatalf("HTTP %d", p.Status)
			}
			for _, c := range all {
				shown := strings.Contains(p.Body, c.ID)
				want := false
				for _, w := range tc.want {
					want = want || w.ID == c.ID
				}
				if shown != want {
					t.Errorf("%s (%s): shown = %v, want %v", c.Name, c.ID, shown, want)
				}
			}
			if len(tc.want) == 0 && !strings.Contains(p.Body, "No connections match these filters") {
				t.Error("no rows but no 'no match' empty state")
			}
			// The filters stay in the form.
			if v := tc.query.Get("tenant"); v != "" && !strings.Contains(p.Body, `name="tenant" type="text" value="`+v+`"`) {
				t.Errorf("tenant filter %q not kept in the form", v)
			}
		})
	}

	p := connGet(t, b, srv.URL+"/console/connections?state=disconnected")
	for _, want := range []string{"Disconnected", "invalid_grant", `href="/console/connections?tenant=globex"`, "Globex CRM"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("disconnected row lacks %q", want)
		}
	}
	p = connGet(t, b, srv.URL+"/console/connections?tenant=acme")
	if !strings.Contains(p.Body, "Acme Inc") {
		t.Error("tenant filter does not name the tenant")
	}
	if !strings.Contains(p.Body, `href="/console/connections/new?tenant=acme"`) {
		t.Error("Create connection is not prefilled with the filtered tenant")
	}
}

func TestConnectionsEmptyState(t *testing.T) {
	srv, b := connSignedIn(t)
	p := connGet(t, b, srv.URL+"/console/connections")
	if !strings.Contains(p.Body, "No connections yet") || !strings.Contains(p.Body, `href="/console/connections/new"`) {
		t.Errorf("empty list does not offer to create a connection:\n%s", p.Body)
	}
}

func TestConnectionsPagination(t *testing.T) {
	srv, b := connSignedIn(t)
	var ids []string
	for i := range 53 {
		c := connSeed(t, srv, store.Connection{TenantKey: "bulk", AppKey: "hubspot", Name: fmt.Sprintf("Bulk %02d", i)})
		ids = append(ids, c.ID)
		time.Sleep(time.Millisecond) // ids order by creation millisecond
	}
	connSeed(t, srv, store.Connection{TenantKey: "other", AppKey: "hubspot", Name: "Other"})

	first := connGet(t, b, srv.URL+"/console/connections?tenant=bulk")
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(first.Body)
	if next == nil {
		t.Fatal("no next-page link on a page of 50 with 53 rows")
	}
	nextURL := html.UnescapeString(next[1])
	if !strings.Contains(nextURL, "tenant=bulk") || !strings.Contains(nextURL, "cursor=") {
		t.Fatalf("next link %q does not keep the filter", nextURL)
	}
	second := connGet(t, b, srv.URL+nextURL)
	onFirst, onSecond := 0, 0
	for _, id := range ids {
		a, z := strings.Contains(first.Body, id), strings.Contains(second.Body, id)
		if a == z {
			t.Errorf("%s on first page %v, on second %v; want exactly one", id, a, z)
		}
		if a {
			onFirst++
		}
		if z {
			onSecond++
		}
	}
	if onFirst != 50 || onSecond != 3 {
		t.Errorf("pages hold %d and %d rows; want 50 and 3", onFirst, onSecond)
	}
	if strings.Contains(second.Body, `rel="next"`) || !strings.Contains(second.Body, "First page") {
		t.Error("the last page should have no next link and a link back to the first page")
	}
	if bad := connGet(t, b, srv.URL+"/console/connections?cursor=garbage"); bad.Status != http.StatusBadRequest || !strings.Contains(bad.Body, "first page") {
		t.Errorf("bad cursor: HTTP %d; want a friendly 400", bad.Status)
	}
}

func TestConnectionsDetail(t *testing.T) {
	srv, b := connSignedIn(t)
	ctx := context.Background()
	f := connSeedFixture(t, srv)
	c := f.globexCRM
	c.Credentials = []byte("SECRET-REFRESH-TOKEN-do-not-show")
	c.Input = map[string]string{"region": "eu-west"}
	c.RetryAttempts = 3
	if err := srv.Store.UpdateConnection(ctx, &c); err != nil {
		t.Fatal(err)
	}
	if err := srv.Store.InsertRefreshAttempt(ctx, &store.RefreshAttempt{
		ConnectionID: c.ID, Outcome: store.OutcomePermanent, ErrorCode: "invalid_grant",
		ErrorMessage: "Token has been revoked by the user.", Duration: 412 * time.Millisecond,
	}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Store.InTx(ctx, func(q *store.Queries) error {
		_, err := events.Record(ctx, q, events.ConnectionDisconnected, c.TenantKey, c.ID, connect.View(c), time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}

	p := connGet(t, b, srv.URL+"/console/connections/"+c.ID)
	if p.Status != http.StatusOK {
		t.Fatalf("HTTP %d", p.Status)
	}
	for _, want := range []string{
		"Globex CRM", c.ID, "Disconnected", "invalid_grant", "HubSpot says the refresh token was revoked.", // last error
		"Refused", "Token has been revoked by the user.", "412 ms", // refresh history
		"connection.disconnected", "Disconnected: invalid_grant", // events
		`href="/console/apps/hubspot"`, `href="/console/connections?tenant=globex"`, "eu-west", "OAuth 2.0",
		`action="/console/connections/` + c.ID + `/reconnect"`, `href="/console/connections/` + c.ID + `/archive"`,
	} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("detail lacks %q", want)
		}
	}
	if strings.Contains(p.Body, "SECRET-REFRESH-TOKEN") {
		t.Error("the detail page shows credentials")
	}

	archived := connGet(t, b, srv.URL+"/console/connections/"+f.globexOld.ID)
	if !strings.Contains(archived.Body, "Archived") || strings.Contains(archived.Body, "/reconnect") {
		t.Error("an archived connection should say so and offer no reconnect")
	}

	for _, path := range []string{"/console/connections/con_doesnotexist", "/console/sessions/cs_doesnotexist"} {
		nf := connGet(t, b, srv.URL+path)
		if nf.Status != http.StatusNotFound || !strings.Contains(nf.Body, "<!doctype html>") || !strings.Contains(nf.Body, "Not found") ||
			strings.HasPrefix(strings.TrimSpace(nf.Body), "{") {
			t.Errorf("GET %s: HTTP %d, want a friendly HTML 404 page:\n%.300s", path, nf.Status, nf.Body)
		}
	}
}

func TestConnectionsCreateInvalid(t *testing.T) {
	srv, b := connSignedIn(t)
	form := connGet(t, b, srv.URL+"/console/connections/new")
	if !strings.Contains(form.Body, `<option value="sandbox-apikey"`) {
		t.Fatal("the sandbox apps are not offered")
	}
	if strings.Contains(form.Body, `<option value="hubspot"`) {
		t.Error("hubspot has no OAuth client but is offered")
	}
	cases := []struct {
		name string
		form url.Values
		want string
	}{
		{"empty tenant", url.Values{"tenantKey": {"  "}}, "Enter the tenant key."},
		{"control character", url.Values{"tenantKey": {"acme\x01"}}, "without control characters"},
		{"too long", url.Values{"tenantKey": {strings.Repeat("k", 256)}}, "at most 255 characters"},
		{"long name", url.Values{"tenantKey": {"acme"}, "name": {strings.Repeat("n", 256)}}, "The name must be"},
		{"unusable app", url.Values{"tenantKey": {"acme"}, "app": {"hubspot"}}, "cannot be connected now"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("csrf", form.CSRF())
			p := connPost(t, b, srv.URL+"/console/connections/new", tc.form)
			if p.Status != http.StatusUnprocessableEntity {
				t.Fatalf("HTTP %d, want 422", p.Status)
			}
			if !strings.Contains(html.UnescapeString(p.Body), tc.want) {
				t.Errorf("page lacks %q", tc.want)
			}
			if !strings.Contains(p.Body, `class="field-error"`) {
				t.Error("the message is not next to a field")
			}
		})
	}
	if _, err := srv.Store.GetTenant(context.Background(), "acme"); err == nil {
		t.Error("an invalid form created a tenant")
	}
}

func TestConnectionsCreateEndToEnd(t *testing.T) {
	srv, b := connSignedIn(t)
	form := connGet(t, b, srv.URL+"/console/connections/new?tenant=e2e&app=sandbox-apikey")
	if !strings.Contains(form.Body, `value="e2e"`) || !strings.Contains(form.Body, `<option value="sandbox-apikey" selected`) {
		t.Error("the form is not prefilled from the query")
	}
	sess := connPost(t, b, srv.URL+"/console/connections/new", url.Values{
		"csrf": {form.CSRF()}, "tenantKey": {"e2e"}, "tenantName": {"E2E Corp"}, "app": {"sandbox-apikey"}, "name": {"Support test"},
	})
	if sess.Status != http.StatusOK || !strings.Contains(sess.URL, "/console/sessions/cs_") {
		t.Fatalf("create landed on %s (HTTP %d)", sess.URL, sess.Status)
	}
	link := connLink(sess)
	if !strings.HasPrefix(link, srv.URL+"/c/") {
		t.Fatalf("session page shows link %q", link)
	}
	for _, want := range []string{"Open connect window", `data-connect-popup="` + link + `"`, `target="_blank"`, "Waiting for the user", "works once",
		`data-session-poll="` + strings.TrimPrefix(sess.URL, srv.URL) + `/status"`} {
		if !strings.Contains(sess.Body, want) {
			t.Errorf("session page lacks %q", want)
		}
	}
	if st, _ := connStatus(t, b, sess.URL); st != "pending" {
		t.Fatalf("status %q before the user acts", st)
	}
	again := connGet(t, b, sess.URL)
	if connLink(again) != "" || strings.Contains(again.Body, link) || !strings.Contains(again.Body, "The link was shown once") {
		t.Error("the link is shown again on reload")
	}

	if err := clienttest.NewBrowser().ConnectAPIKey(link, "sandbox-good"); err != nil {
		t.Fatal(err)
	}
	st, id := connStatus(t, b, sess.URL)
	if st != "completed" || id == "" {
		t.Fatalf("status %q, connection %q; want completed", st, id)
	}
	c, err := srv.Store.GetConnection(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.TenantKey != "e2e" || c.AppKey != "sandbox-apikey" || c.Name != "Support test" {
		t.Errorf("connection = %s/%s %q", c.TenantKey, c.AppKey, c.Name)
	}
	if tn, _ := srv.Store.GetTenant(context.Background(), "e2e"); tn.Name != "E2E Corp" {
		t.Errorf("tenant name %q", tn.Name)
	}
	done := connGet(t, b, sess.URL)
	if !strings.Contains(done.Body, "Completed") || !strings.Contains(done.Body, `href="/console/connections/`+id+`"`) {
		t.Error("the completed session does not link to its connection")
	}
	if strings.Contains(done.Body, `data-session-poll="`) {
		t.Error("a finished session still polls")
	}
}

func TestConnectionsCancelSession(t *testing.T) {
	srv, b := connSignedIn(t)
	form := connGet(t, b, srv.URL+"/console/connections/new")
	sess := connPost(t, b, srv.URL+"/console/connections/new", url.Values{"csrf": {form.CSRF()}, "tenantKey": {"acme"}, "intent": {"CRM"}})
	if !strings.Contains(sess.Body, "The user chooses") || !strings.Contains(sess.Body, "CRM") {
		t.Error("the session page does not say the user chooses the app")
	}
	p := connPost(t, b, sess.URL+"/cancel", url.Values{"csrf": {sess.CSRF()}})
	if p.URL != sess.URL || !strings.Contains(p.Body, "Cancelled") {
		t.Fatalf("cancel landed on %s without saying cancelled", p.URL)
	}
	if st, _ := connStatus(t, b, sess.URL); st != "cancelled" {
		t.Errorf("status %q after cancel", st)
	}
}

func TestConnectionsReconnect(t *testing.T) {
	srv, b := connSignedIn(t)
	ctx := context.Background()
	form := connGet(t, b, srv.URL+"/console/connections/new")
	sess := connPost(t, b, srv.URL+"/console/connections/new", url.Values{"csrf": {form.CSRF()}, "tenantKey": {"oauth-co"}, "app": {"sandbox-oauth"}})
	if err := clienttest.NewBrowser().ConnectOAuth(connLink(sess), "approve"); err != nil {
		t.Fatal(err)
	}
	st, id := connStatus(t, b, sess.URL)
	if st != "completed" {
		t.Fatalf("first connect: %s", st)
	}
	c, err := srv.Store.GetConnection(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	c.Disconnected, c.ErrorCode, c.ErrorMessage = true, "invalid_grant", "The sandbox revoked the grant."
	if err := srv.Store.UpdateConnection(ctx, &c); err != nil {
		t.Fatal(err)
	}

	detail := connGet(t, b, srv.URL+"/console/connections/"+id)
	if !strings.Contains(detail.Body, "The sandbox revoked the grant.") {
		t.Fatal("the detail page does not show the error")
	}
	re := connPost(t, b, srv.URL+"/console/connections/"+id+"/reconnect", url.Values{"csrf": {detail.CSRF()}})
	if !strings.Contains(re.URL, "/console/sessions/") || !strings.Contains(re.Body, "Reconnect session") {
		t.Fatalf("reconnect landed on %s (HTTP %d)", re.URL, re.Status)
	}
	if !strings.Contains(re.Body, `href="/console/connections/`+id+`"`) {
		t.Error("the session page does not link the connection it reconnects")
	}
	if err := clienttest.NewBrowser().ConnectOAuth(connLink(re), "approve"); err != nil {
		t.Fatal(err)
	}
	st, got := connStatus(t, b, re.URL)
	if st != "completed" || got != id {
		t.Fatalf("reconnect: %s, connection %q; want completed, %q", st, got, id)
	}
	c, err = srv.Store.GetConnection(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Disconnected || c.ErrorCode != "" {
		t.Errorf("after reconnect: disconnected %v, error %q", c.Disconnected, c.ErrorCode)
	}
	if n, _ := srv.Store.CountConnections(ctx, store.ConnectionFilter{TenantKey: "oauth-co", IncludeArchived: true}); n != 1 {
		t.Errorf("tenant has %d connections; reconnect must not add one", n)
	}
}

func TestConnectionsArchive(t *testing.T) {
	srv, b := connSignedIn(t)
	ctx := context.Background()
	c := connSeed(t, srv, store.Connection{TenantKey: "acme", AppKey: "sandbox-apikey", Name: "Key to archive", Credentials: []byte("sealed")})

	confirm := connGet(t, b, srv.URL+"/console/connections/"+c.ID+"/archive")
	if confirm.Status != http.StatusOK {
		t.Fatalf("confirmation: HTTP %d", confirm.Status)
	}
	for _, want := range []string{"connection.deleted", "Erase the stored credentials", "Archive connection"} {
		if !strings.Contains(confirm.Body, want) {
			t.Errorf("confirmation lacks %q", want)
		}
	}
	if got, _ := srv.Store.GetConnection(ctx, c.ID, ""); got.ArchivedAt != nil {
		t.Fatal("opening the confirmation archived the connection")
	}
	p := connPost(t, b, srv.URL+"/console/connections/"+c.ID+"/archive", url.Values{"csrf": {confirm.CSRF()}})
	if !strings.HasSuffix(p.URL, "/console/connections/"+c.ID) || !strings.Contains(p.Body, "Archived") {
		t.Fatalf("archive landed on %s (HTTP %d)", p.URL, p.Status)
	}
	got, err := srv.Store.GetConnection(ctx, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.ArchivedAt == nil || got.Credentials != nil {
		t.Errorf("archivedAt %v, credentials kept %v", got.ArchivedAt, got.Credentials != nil)
	}
	evs, _, _ := srv.Store.ListEvents(ctx, store.EventFilter{ConnectionID: c.ID, Types: []string{events.ConnectionDeleted}})
	if len(evs) != 1 {
		t.Errorf("%d connection.deleted events", len(evs))
	}
	if !strings.Contains(p.Body, "Archived; credentials erased") {
		t.Error("the detail page's timeline lacks the archive event")
	}
	// Archived: no confirmation any more, and no reconnect.
	if again := connGet(t, b, srv.URL+"/console/connections/"+c.ID+"/archive"); !strings.Contains(again.Body, "already archived") {
		t.Error("the confirmation of an archived connection does not say it is archived")
	}
	if re := connPost(t, b, srv.URL+"/console/connections/"+c.ID+"/reconnect", url.Values{"csrf": {confirm.CSRF()}}); !strings.Contains(re.Body, "is archived and cannot be reconnected") {
		t.Errorf("reconnecting an archived connection: %s (HTTP %d)", re.URL, re.Status)
	}
}

func TestConnectionsPostWithoutCSRF(t *testing.T) {
	srv, b := connSignedIn(t)
	ctx := context.Background()
	c := connSeed(t, srv, store.Connection{TenantKey: "acme", AppKey: "sandbox-apikey", Name: "Keep me"})
	form := connGet(t, b, srv.URL+"/console/connections/new")
	sess := connPost(t, b, srv.URL+"/console/connections/new", url.Values{"csrf": {form.CSRF()}, "tenantKey": {"acme"}})
	for _, tc := range []struct {
		name, path string
		form       url.Values
	}{
		{"create", "/console/connections/new", url.Values{"tenantKey": {"csrf-less"}}},
		{"archive", "/console/connections/" + c.ID + "/archive", url.Values{}},
		{"reconnect", "/console/connections/" + c.ID + "/reconnect", url.Values{}},
		{"cancel", strings.TrimPrefix(sess.URL, srv.URL) + "/cancel", url.Values{}},
		{"wrong token", "/console/connections/" + c.ID + "/archive", url.Values{"csrf": {"not-the-token"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := connPost(t, b, srv.URL+tc.path, tc.form)
			if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "<!doctype html>") || !strings.Contains(p.Body, "Not allowed") {
				t.Errorf("HTTP %d, want the 403 page", p.Status)
			}
		})
	}
	if got, _ := srv.Store.GetConnection(ctx, c.ID, ""); got.ArchivedAt != nil {
		t.Error("a post without CSRF archived the connection")
	}
	if _, err := srv.Store.GetTenant(ctx, "csrf-less"); err == nil {
		t.Error("a post without CSRF started a session")
	}
	if st, _ := connStatus(t, b, sess.URL); st != "pending" {
		t.Errorf("a post without CSRF cancelled the session (%s)", st)
	}
}
