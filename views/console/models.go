// Package console holds the admin console's pages: server-rendered templ
// components in the popup's design language, fed plain view models so the
// handlers decide what is shown and the templates only lay it out.
package console

import (
	"context"
	"html"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/a-h/templ"
)

// Sections of the console, for the navigation's current item.
const (
	SectionDashboard   = "dashboard"
	SectionConnections = "connections"
	SectionApps        = "apps"
	SectionWebhooks    = "webhooks"
	SectionTenants     = "tenants"
)

// Page is what every console page's shell needs.
type Page struct {
	Title      string
	Section    string // one of the Section constants; "" on sign-in and error pages
	Nonce      string // CSP script nonce of this response
	CSRF       string // token every POST form carries
	AdminEmail string // "" when signed out
	Workspace  string // the host product's name
	Flashes    []Flash
	Now        time.Time // for relative times
}

// Flash is a one-time message carried across a redirect.
type Flash struct {
	Kind string // "success", "error", "info"
	Text string
	// Secret is shown once with a copy button (a new webhook secret, a connect link).
	Secret      string
	SecretLabel string
}

// LoginPage is the sign-in form.
type LoginPage struct {
	Page
	Email   string
	Next    string // where to go after signing in
	Error   string
	Notice  string // "Your session expired…", "You signed out."
	Limited bool   // too many attempts: the form is shown disabled-looking with the wait
}

// ErrorPage is a friendly error page.
type ErrorPage struct {
	Page
	Status  int
	Heading string
	Message string
	BackURL string
}

// Pager links to the next page of a keyset-paginated list. Lists go newest
// first; "First page" returns to the start.
type Pager struct {
	NextURL  string // "" on the last page
	FirstURL string // "" on the first page
	Count    int    // rows on this page
}

// Crumb is one step of a breadcrumb trail.
type Crumb struct {
	Label, URL string
}

// monogram is the tile text for a workspace or app without a logo.
func monogram(name string) string {
	for _, r := range strings.TrimSpace(name) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return string(unicode.ToUpper(r))
		}
	}
	return "?"
}

func pageTitle(t string) string {
	if t == "" {
		return "Hitch console"
	}
	return t + " · Hitch console"
}

func navClass(p Page, section string) string {
	if p.Section == section {
		return "c-nav-link is-current"
	}
	return "c-nav-link"
}

func navCurrent(p Page, section string) string {
	if p.Section == section {
		return "page"
	}
	return ""
}

// Stamp formats a time for tables: an absolute UTC date a support engineer
// can quote; the relative form goes in the title attribute.
func Stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// StampPtr is Stamp for an optional time.
func StampPtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return Stamp(*t)
}

// Ago says how long before now t was ("3 min ago", "in 5 min").
func Ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = strconv.Itoa(int(d.Seconds())) + " s"
	case d < time.Hour:
		s = strconv.Itoa(int(d.Minutes())) + " min"
	case d < 48*time.Hour:
		s = strconv.Itoa(int(d.Hours())) + " h"
	default:
		s = strconv.Itoa(int(d.Hours()/24)) + " days"
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// AgoPtr is Ago for an optional time.
func AgoPtr(now time.Time, t *time.Time) string {
	if t == nil {
		return ""
	}
	return Ago(now, *t)
}

// WithQuery returns path with the query values set (empty values dropped),
// for filter links and pagers.
func WithQuery(path string, q url.Values) string {
	clean := url.Values{}
	for k, vs := range q {
		for _, v := range vs {
			if v != "" {
				clean.Add(k, v)
			}
		}
	}
	if len(clean) == 0 {
		return path
	}
	return path + "?" + clean.Encode()
}

// Plural picks the word for n: Plural(1, "connection", "connections").
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// inlineScript emits a nonce'd script. Scripts are constants: Go values
// travel in data-* attributes, escaped by templ, never spliced into JS.
func inlineScript(nonce, js string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, `<script nonce="`+html.EscapeString(nonce)+`">`+js+`</script>`)
		return err
	})
}

// copyJS wires [data-copy] buttons to copy their target's text.
const copyJS = `(function(){
document.addEventListener("click",function(e){
var b=e.target.closest("[data-copy]");if(!b)return;
var t=document.getElementById(b.getAttribute("data-copy"));if(!t||!navigator.clipboard)return;
navigator.clipboard.writeText(t.value||t.textContent).then(function(){var l=b.querySelector("[data-copy-label]");if(l){var o=l.textContent;l.textContent="Copied";setTimeout(function(){l.textContent=o},1500);}});
});
document.querySelectorAll("[data-copy]").forEach(function(b){if(navigator.clipboard)b.hidden=false;});
})();`

// brandSub is the line under the workspace name: "Hitch console", or just
// "Console" when the workspace is still called Hitch.
func brandSub(p Page) string {
	if p.Workspace == "" || p.Workspace == "Hitch" {
		return "Console"
	}
	return "Hitch console"
}
