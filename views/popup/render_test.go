package popup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/a-h/templ"
	"golang.org/x/net/html"
)

const (
	testNonce = "n0nce-abc123"
	// hostile is fed into every text field so the markup checks below have something to catch.
	hostile = `"><img src=x onerror=alert(1)><script>alert(2)</script>`
	// payloadAttack tries to end the data block and start a script of its own.
	payloadAttack = `{"type":"hitch:result","sessionId":"cs_1","status":"completed","note":"</script><script>alert(3)</script><!--","ls":"a` + "\u2028" + `b"}`
)

func basePage(title string) Page {
	return Page{Title: title, Nonce: testNonce, Workspace: "Acme CRM Sync", SessionID: "cs_123", CSRF: "csrf-tok"}
}

func sampleApps() []AppCard {
	return []AppCard{
		{Key: "hubspot", Name: "HubSpot", Logo: "/static/logos/hubspot.svg", AuthType: "oauth2", Categories: []string{"CRM", "Marketing"}, Configured: true, Decisive: true, URL: "/popup/cs_123/apps/hubspot"},
		{Key: "salesforce", Name: "Salesforce", Logo: "/static/logos/salesforce.svg", AuthType: "oauth2", Categories: []string{"CRM"}, Configured: true, URL: "/popup/cs_123/apps/salesforce"},
		{Key: "pipedrive", Name: "Pipedrive", Logo: "/static/logos/pipedrive.svg", AuthType: "apiKey", Categories: []string{"CRM", "Sales"}, Configured: true, URL: "/popup/cs_123/apps/pipedrive"},
		{Key: "zoho", Name: "Zoho CRM", Logo: "/static/logos/zoho-crm.svg", AuthType: "oauth2", Categories: []string{"CRM"}, Configured: false, URL: "/popup/cs_123/apps/zoho"},
		{Key: "close", Name: "Close", Logo: "/static/logos/close.svg", AuthType: "apiKey", Categories: []string{"CRM", "Sales"}, Configured: true, URL: "/popup/cs_123/apps/close"},
		{Key: "attio", Name: "Attio", AuthType: "oauth2", Categories: []string{"CRM"}, Configured: true, URL: "/popup/cs_123/apps/attio"},
	}
}

func sampleCategories(sel string) []Category {
	var out []Category
	for _, c := range [][2]string{{"", "All"}, {"crm", "CRM"}, {"marketing", "Marketing"}, {"sales", "Sales"}, {"support", "Support"}, {"accounting", "Accounting"}, {"email", "Email"}} {
		out = append(out, Category{Key: c[0], Label: c[1], URL: "/popup/cs_123/search?category=" + c[0], Selected: c[0] == sel})
	}
	return out
}

// samples are the pages rendered by the tests and by the screenshot dump.
func samples() []struct {
	name string
	c    templ.Component
	want []string
} {
	search := SearchPage{
		Page: basePage("Connect an app"), Intent: "CRM", Results: sampleApps(), Categories: sampleCategories("crm"),
		Category: "crm", ActionURL: "/popup/cs_123/search", CancelURL: "/popup/cs_123/cancel", SearchURL: "/popup/cs_123/search.json",
	}
	empty := search
	empty.Query, empty.Results, empty.Categories, empty.Category = "Frobnicator", nil, sampleCategories(""), ""
	consent := ConsentPage{
		Page: basePage("Connect HubSpot"), App: sampleApps()[0], Requester: "Globex Corporation",
		Scopes:    []string{"crm.objects.contacts.read", "crm.objects.deals.write", "https://www.googleapis.com/auth/gmail.readonly", "oauth"},
		Fields:    []Field{{Key: "subdomain", Label: "Account subdomain", Help: "The part before .hubspot.com in your account URL.", Placeholder: "acme", Pattern: "[a-z0-9-]+"}},
		ActionURL: "/popup/cs_123/apps/hubspot/authorize", BackURL: "/popup/cs_123/search", CancelURL: "/popup/cs_123/cancel",
	}
	reconnect := consent
	reconnect.Reconnect, reconnect.Fields, reconnect.Scopes = true, nil, nil
	reconnect.Error = "HubSpot didn't return to Hitch. Please try again."
	creds := CredentialsPage{
		Page: basePage("Connect Pipedrive"), App: sampleApps()[2],
		Fields: []Field{
			{Key: "company_domain", Label: "Company domain", Placeholder: "acme", Value: "acme", Help: "As in acme.pipedrive.com", Pattern: "[a-z0-9-]+"},
			{Key: "api_token", Label: "API token", Secret: true, Value: "must-not-render", Help: "Settings → Personal preferences → API.", Error: "Check the token and try again."},
			{Key: "note", Label: "Label", Optional: true, Placeholder: "e.g. Sales team"},
		},
		ActionURL: "/popup/cs_123/apps/pipedrive/credentials", BackURL: "/popup/cs_123/search", CancelURL: "/popup/cs_123/cancel",
		Error: "Pipedrive refused these credentials.", ProviderMessage: "401 Unauthorized: You need to be authorized to make this request.",
	}
	result := func(status, retry string, auto bool) ResultPage {
		return ResultPage{Page: basePage("Result"), Status: status, AppName: "HubSpot", AppLogo: "/static/logos/hubspot.svg",
			RetryURL: retry, HostOrigin: "https://app.acme.test", Payload: payloadAttack, AutoClose: auto}
	}
	failed := result(StatusFailed, "/popup/cs_123/apps/hubspot", false)
	failed.Message = "HubSpot denied access (access_denied)."
	return []struct {
		name string
		c    templ.Component
		want []string
	}{
		{"search", Search(search), []string{"Connect an app", "Acme CRM Sync", "Suggested for “CRM”", "6 apps", "HubSpot", "CRM · Marketing", "Best match", "Not configured", "Secured by Hitch"}},
		{"search-empty", Search(empty), []string{"No app matches “Frobnicator”.", "Try a category or another name.", "No apps"}},
		{"consent", Consent(consent), []string{"Globex Corporation wants to connect to HubSpot", "CRM objects contacts read", "crm.objects.contacts.read", "Gmail read-only", "Account subdomain", "Continue to HubSpot", "sign in on HubSpot", "Back"}},
		{"consent-reconnect", Consent(reconnect), []string{"Reconnect HubSpot", "needs you to sign in again", "HubSpot didn't return to Hitch"}},
		{"credentials", Credentials(creds), []string{"Connect Pipedrive", "API token", "Check the token and try again.", "Pipedrive said:", "401 Unauthorized", "Pipedrive refused these credentials.", "Connect", "Optional"}},
		{"result-success", Result(result(StatusCompleted, "", true)), []string{"Connected to HubSpot", "You can close this window now."}},
		{"result-failed", Result(failed), []string{"Couldn't connect to HubSpot", "access_denied", "Try again"}},
		{"result-cancelled", Result(result(StatusCancelled, "", true)), []string{"Connection cancelled"}},
		{"result-expired", Result(result(StatusExpired, "", false)), []string{"This session has expired"}},
		{"error", Error(ErrorPage{Page: Page{Title: "Link used", Nonce: testNonce, Workspace: "Acme CRM Sync"}, Status: 409,
			Heading: "This link has already been used", Message: "Each connect link works once, so nobody else can reuse it.",
			Hint: "Go back to Acme CRM Sync and click Connect again to get a fresh link."}), []string{"This link has already been used", "What you can do", "Error 409"}},
		{"hostile", Search(SearchPage{Page: Page{Title: hostile, Nonce: testNonce, Workspace: hostile, SessionID: hostile, CSRF: hostile},
			Query: hostile, Intent: hostile, Results: []AppCard{{Key: "x", Name: hostile, Logo: "javascript:alert(1)", Categories: []string{hostile}, Configured: true, URL: "javascript:alert(1)"}},
			Categories: []Category{{Key: "x", Label: hostile, URL: "javascript:alert(1)"}}, ActionURL: "javascript:alert(1)", CancelURL: "javascript:alert(1)", SearchURL: hostile}),
			[]string{hostile}},
	}
}

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatalf("render: %v", err)
	}
	return b.String()
}

// inspect walks the markup the way a browser tokenizes it and returns the
// visible text, the text of every <script> by id, and what breaks the CSP or
// lets script in.
func inspect(doc string) (text string, scripts map[string]string, problems []string) {
	scripts = map[string]string{}
	z := html.NewTokenizer(strings.NewReader(doc))
	var sb strings.Builder
	inScript, key, n := false, "", 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				problems = append(problems, "tokenize: "+z.Err().Error())
			}
			return strings.Join(strings.Fields(sb.String()), " "), scripts, problems
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			attr := map[string]string{}
			for _, a := range tok.Attr {
				k := strings.ToLower(a.Key)
				attr[k] = a.Val
				switch {
				case k == "style":
					problems = append(problems, fmt.Sprintf("<%s> has a style attribute", tok.Data))
				case strings.HasPrefix(k, "on"):
					problems = append(problems, fmt.Sprintf("<%s> has an inline handler %s", tok.Data, k))
				case (k == "href" || k == "action" || k == "src" || k == "formaction") &&
					strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:"):
					problems = append(problems, fmt.Sprintf("<%s %s=%q> is a javascript: URL", tok.Data, k, a.Val))
				case (k == "href" || k == "src") && (tok.Data == "link" || tok.Data == "img") && strings.Contains(a.Val, "//"):
					problems = append(problems, fmt.Sprintf("<%s> loads %q from another origin", tok.Data, a.Val))
				}
			}
			switch tok.Data {
			case "style":
				problems = append(problems, "inline <style> element")
			case "script":
				if attr["nonce"] != testNonce {
					problems = append(problems, fmt.Sprintf("<script id=%q> nonce = %q", attr["id"], attr["nonce"]))
				}
				if attr["src"] != "" {
					problems = append(problems, "<script src> is not allowed")
				}
				n++
				key = attr["id"]
				if key == "" {
					key = fmt.Sprintf("#%d", n)
				}
				inScript = true
			}
		case html.EndTagToken:
			if z.Token().Data == "script" {
				inScript = false
			}
		case html.TextToken:
			if inScript {
				scripts[key] += string(z.Text())
				continue
			}
			sb.Write(z.Text())
			sb.WriteByte(' ')
		}
	}
}

func TestInspectCatchesUnsafeMarkup(t *testing.T) {
	tests := []struct{ name, doc string }{
		{"style attr", `<p style="color:red">x</p>`},
		{"handler", `<img src="/a.svg" onerror="x()">`},
		{"no nonce", `<script>alert(1)</script>`},
		{"wrong nonce", `<script nonce="other">1</script>`},
		{"js url", `<a href="javascript:alert(1)">x</a>`},
		{"style element", `<style>p{}</style>`},
		{"cdn", `<link rel="stylesheet" href="https://cdn.example/x.css">`},
	}
	for _, tt := range tests {
		if _, _, p := inspect(tt.doc); len(p) == 0 {
			t.Errorf("%s: no problem found in %s", tt.name, tt.doc)
		}
	}
	if _, _, p := inspect(`<script nonce="` + testNonce + `">1</script><a href="/x">x</a>`); len(p) != 0 {
		t.Errorf("clean markup flagged: %v", p)
	}
}

func TestRender(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			doc := render(t, s.c)
			text, scripts, problems := inspect(doc)
			for _, p := range problems {
				t.Error(p)
			}
			for _, w := range s.want {
				if !strings.Contains(text, w) {
					t.Errorf("text lacks %q\ntext: %s", w, text)
				}
			}
			if strings.Contains(doc, "<img src=x") || strings.Contains(doc, "<script>alert") {
				t.Errorf("hostile text reached the markup unescaped")
			}
			if strings.Contains(doc, "must-not-render") {
				t.Errorf("a Secret field's value was rendered")
			}
			for _, tag := range []string{`<meta name="viewport"`, `<meta name="referrer" content="no-referrer">`, `href="/static/css/hitch.css"`} {
				if !strings.Contains(doc, tag) {
					t.Errorf("head lacks %s", tag)
				}
			}
			if len(scripts) == 0 {
				t.Errorf("no scripts: the detached ping is expected on every page")
			}
			// Every POST form carries the CSRF token.
			for _, f := range strings.Split(doc, `method="post"`)[1:] {
				end := strings.Index(f, "</form>")
				if end < 0 || !strings.Contains(f[:end], `name="csrf"`) {
					t.Errorf("a POST form lacks the csrf input")
				}
			}
		})
	}
}

func TestResultPayloadIsInert(t *testing.T) {
	p := ResultPage{Page: basePage("Result"), Status: StatusCompleted, HostOrigin: "https://app.acme.test", Payload: payloadAttack, AutoClose: true}
	doc := render(t, Result(p))
	if strings.Contains(doc, "</script><script>alert(3)") || strings.Contains(doc, "<!--") {
		t.Fatalf("payload broke out of its data block:\n%s", doc)
	}
	_, scripts, problems := inspect(doc)
	if len(problems) > 0 {
		t.Errorf("unsafe markup: %v", problems)
	}
	raw, ok := scripts["hitch-result"]
	if !ok {
		t.Fatalf("no #hitch-result data block; scripts: %v", scripts)
	}
	var got, want any
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("data block is not JSON: %v\n%s", err, raw)
	}
	if err := json.Unmarshal([]byte(payloadAttack), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("payload changed in transit:\n got %v\nwant %v", got, want)
	}
	if !strings.Contains(doc, `data-origin="https://app.acme.test"`) || !strings.Contains(doc, `data-autoclose="true"`) {
		t.Errorf("data block lacks origin or autoclose")
	}
}

func TestSafeJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":"</script>"}`, `{"a":"\u003c/script\u003e"}`},
		{`{"a":"x&y"}`, `{"a":"x\u0026y"}`},
		{"\"\u2028\"", `"\u2028"`},
		{`not json </script>`, `null`},
		{``, `null`},
		{`{"ok":true}`, `{"ok":true}`},
	}
	for _, tt := range tests {
		if got := safeJSON(tt.in); got != tt.want {
			t.Errorf("safeJSON(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestScopeLabel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"crm.objects.contacts.read", "CRM objects contacts read"},
		{"https://www.googleapis.com/auth/gmail.readonly", "Gmail read-only"},
		{"read_user", "Read user"},
		{"offline_access", "Offline access"},
		{"openid", "OpenID"},
		{"...", "..."},
	}
	for _, tt := range tests {
		if got := scopeLabel(tt.in); got != tt.want {
			t.Errorf("scopeLabel(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestModalAndSessionData(t *testing.T) {
	p := basePage("x")
	p.Modal = true
	doc := render(t, Error(ErrorPage{Page: p, Status: 404}))
	for _, w := range []string{`data-hitch-modal="true"`, `data-hitch-session="cs_123"`, `data-hitch-csrf="csrf-tok"`, "This link isn&#39;t valid"} {
		if !strings.Contains(doc, w) {
			t.Errorf("missing %s", w)
		}
	}
}

// TestDump writes every sample page and the stylesheet to $HITCH_VIEWS_DUMP
// for a look in a browser; it is skipped otherwise.
func TestDump(t *testing.T) {
	dir := os.Getenv("HITCH_VIEWS_DUMP")
	if dir == "" {
		t.Skip("set HITCH_VIEWS_DUMP to a directory to write the sample pages")
	}
	css, err := os.ReadFile(filepath.Join("..", "..", "static", "css", "hitch.css"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "static", "css"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "static", "css", "hitch.css"), css, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range samples() {
		if err := os.WriteFile(filepath.Join(dir, s.name+".html"), []byte(render(t, s.c)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
