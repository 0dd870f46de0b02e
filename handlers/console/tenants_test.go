package console_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/store"
)

var (
	tenantRowRe  = regexp.MustCompile(`(?s)<tr>.*?</tr>`)
	tenantTagRe  = regexp.MustCompile(`<[^>]+>`)
	tenantNextRe = regexp.MustCompile(`href="([^"]+)" rel="next"`)
)

// tenantRow is the text of the tenants table row that names key, cells
// separated by single spaces; "" when there is none.
func tenantRow(body, key string) (text, markup string) {
	for _, row := range tenantRowRe.FindAllString(body, -1) {
		if strings.Contains(row, `?tenant=`+key+`"`) {
			return strings.Join(strings.Fields(html.UnescapeString(tenantTagRe.ReplaceAllString(row, " "))), " "), row
		}
	}
	return "", ""
}

func TestTenantsCounts(t *testing.T) {
	srv, b := connSignedIn(t)
	connSeedFixture(t, srv) // acme: 2 active; globex: 1 disconnected, 1 archived
	if err := srv.Store.UpsertTenant(context.Background(), "initech", "Initech", time.Now()); err != nil {
		t.Fatal(err)
	}
	p := connGet(t, b, srv.URL+"/console/tenants")
	if p.Status != http.StatusOK {
		t.Fatalf("HTTP %d", p.Status)
	}
	cases := []struct {
		key, prefix string
		danger      bool
	}{
		{"acme", "Acme Inc acme 2 0 0 ", false},
		{"globex", "globex 0 1 1 ", true},
		{"initech", "Initech initech 0 0 0 — ", false},
	}
	for _, tc := range cases {
		text, markup := tenantRow(p.Body, tc.key)
		if !strings.HasPrefix(text, tc.prefix) {
			t.Errorf("row of %s = %q; want it to start %q", tc.key, text, tc.prefix)
		}
		if got := strings.Contains(markup, "c-tenant-danger"); got != tc.danger {
			t.Errorf("row of %s: disconnected in danger colour = %v, want %v", tc.key, got, tc.danger)
		}
	}
	if _, markup := tenantRow(p.Body, "globex"); !strings.Contains(markup, `href="/console/connections?state=disconnected&amp;tenant=globex"`) {
		t.Error("the disconnected count does not link to the tenant's disconnected connections")
	}

	found := connGet(t, b, srv.URL+"/console/tenants?q=ACME")
	if text, _ := tenantRow(found.Body, "acme"); text == "" {
		t.Error("search by key does not find acme")
	}
	if text, _ := tenantRow(found.Body, "globex"); text != "" {
		t.Error("search by key shows globex")
	}
	byName := connGet(t, b, srv.URL+"/console/tenants?q=initech")
	if text, _ := tenantRow(byName.Body, "initech"); text == "" {
		t.Error("search by name does not find Initech")
	}
	none := connGet(t, b, srv.URL+"/console/tenants?q=zzz")
	if !strings.Contains(none.Body, "No tenants match") || !strings.Contains(none.Body, "Clear search") {
		t.Error("a search without results has no empty state")
	}
}

func TestTenantsEmptyAndPagination(t *testing.T) {
	srv, b := connSignedIn(t)
	if p := connGet(t, b, srv.URL+"/console/tenants"); !strings.Contains(p.Body, "No tenants yet") {
		t.Error("no empty state without tenants")
	}
	ctx := context.Background()
	for i := range 52 {
		if err := srv.Store.UpsertTenant(ctx, fmt.Sprintf("t-%03d", i), "", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	connSeed(t, srv, store.Connection{TenantKey: "t-051", AppKey: "hubspot", Name: "Last one"})
	first := connGet(t, b, srv.URL+"/console/tenants?q=t-")
	m := tenantNextRe.FindStringSubmatch(first.Body)
	if m == nil {
		t.Fatal("no next-page link with 52 tenants")
	}
	if text, _ := tenantRow(first.Body, "t-049"); text == "" {
		t.Error("t-049 missing from the first page")
	}
	if text, _ := tenantRow(first.Body, "t-050"); text != "" {
		t.Error("t-050 on the first page")
	}
	next := html.UnescapeString(m[1])
	if !strings.Contains(next, "q=t-") {
		t.Errorf("next link %q drops the search", next)
	}
	second := connGet(t, b, srv.URL+next)
	if text, _ := tenantRow(second.Body, "t-051"); !strings.HasPrefix(text, "t-051 1 0 0 ") {
		t.Errorf("second page row of t-051 = %q", text)
	}
}
