package catalog

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// labelledQueries are intents with the app (or category) each must rank
// first, and whether the first result must be decisive.
var labelledQueries = []struct {
	query    string
	app      string // expected first app key, or
	category string // a category the first result must belong to
	decisive bool
}{
	// Exact names, keys and aliases.
	{query: "hubspot", app: "hubspot", decisive: true},
	{query: "  HubSpot!! ", app: "hubspot", decisive: true},
	{query: "salesforce", app: "salesforce", decisive: true},
	{query: "sfdc", app: "salesforce", decisive: true},
	{query: "gcal", app: "google-calendar", decisive: true},
	{query: "o365", app: "outlook", decisive: true},
	{query: "Office 365", app: "outlook", decisive: true},
	{query: "teams", app: "microsoft-teams", decisive: true},
	{query: "Micro-soft Teams", app: "microsoft-teams", decisive: true},
	{query: "google drive", app: "google-drive", decisive: true},
	{query: "mail chimp", app: "mailchimp", decisive: true},
	{query: "zoho", app: "zoho-crm", decisive: true},
	{query: "bamboo", app: "bamboohr", decisive: true},
	{query: "Zéndesk", app: "zendesk", decisive: true},
	{query: "monday.com", app: "monday", decisive: true},
	{query: "cal.com", app: "cal-com", decisive: true},
	{query: "Box", app: "box", decisive: true},
	// A name among other words.
	{query: "connect my hubspot account", app: "hubspot", decisive: true},
	{query: "sync HubSpot contacts", app: "hubspot", decisive: true},
	{query: "stripe api key", app: "stripe", decisive: true},
	{query: "hubspot or salesforce", app: "salesforce", decisive: false},
	// URLs and domains.
	{query: "https://app.hubspot.com/contacts", app: "hubspot", decisive: true},
	{query: "slack.com", app: "slack", decisive: true},
	{query: "acme.zendesk.com", app: "zendesk", decisive: true},
	{query: "https://acme.myshopify.com/admin", app: "shopify", decisive: true},
	{query: "www.dropbox.com/home", app: "dropbox", decisive: true},
	{query: "acme.atlassian.net", app: "jira", decisive: false},
	// Misspellings.
	{query: "hubspt", app: "hubspot", decisive: true},
	{query: "salesfroce", app: "salesforce", decisive: true},
	{query: "zendsk", app: "zendesk", decisive: true},
	{query: "shopfy", app: "shopify", decisive: true},
	{query: "jria", app: "jira", decisive: true},
	{query: "slakc", app: "slack", decisive: true},
	{query: "notoin", app: "notion", decisive: true},
	{query: "quickbook", app: "quickbooks", decisive: true},
	{query: "google calender", app: "google-calendar", decisive: true},
	{query: "dropbx files", app: "dropbox", decisive: true},
	// Prefixes.
	{query: "hub", app: "hubspot", decisive: false},
	{query: "salesf", app: "salesforce", decisive: true},
	// Categories and synonyms.
	{query: "CRM", category: "crm"},
	{query: "customer relationship management", category: "crm"},
	{query: "sales pipeline", category: "crm"},
	{query: "help desk", category: "ticketing"},
	{query: "helpdesk", category: "ticketing"},
	{query: "tickets", category: "ticketing"},
	{query: "customer support", category: "ticketing"},
	{query: "mail", category: "email"},
	{query: "inbox", category: "email"},
	{query: "files", category: "storage"},
	{query: "documents", category: "storage"},
	{query: "invoices", category: "accounting"},
	{query: "bookkeeping", category: "accounting"},
	{query: "accept credit card payments", category: "payments"},
	{query: "project management", category: "project-management"},
	{query: "kanban board", category: "project-management"},
	{query: "payroll", category: "hr"},
	{query: "recruiting", category: "hr"},
	{query: "email marketing", category: "marketing"},
	{query: "video calls", category: "video"},
	{query: "scheduling", category: "calendar"},
	{query: "git repositories", category: "dev-tools"},
	{query: "wiki", category: "knowledge"},
	{query: "spreadsheet", category: "spreadsheets"},
	{query: "send SMS", category: "telephony"},
	{query: "online store", category: "ecommerce"},
	{query: "web analytics", category: "analytics"},
	{query: "surveys", category: "forms"},
	{query: "e-signature", category: "signature"},
	// Misspelled category words.
	{query: "calender", category: "calendar"},
	{query: "acounting", category: "accounting"},
	{query: "helpdeks", category: "ticketing"},
}

func TestLabelledQueries(t *testing.T) {
	c := loadBuiltin(t, false)
	if len(labelledQueries) < 45 {
		t.Fatalf("only %d labelled queries", len(labelledQueries))
	}
	for _, lq := range labelledQueries {
		res := c.Search(Query{Text: lq.query, Limit: 5})
		if len(res) == 0 {
			t.Errorf("%q: no results", lq.query)
			continue
		}
		top := res[0]
		switch {
		case lq.app != "" && top.App.Key != lq.app:
			t.Errorf("%q: first is %s, want %s (got %s)", lq.query, top.App.Key, lq.app, keys(res))
		case lq.category != "" && !slices.Contains(top.App.Categories, lq.category):
			t.Errorf("%q: first is %s %v, want category %s (got %s)", lq.query, top.App.Key, top.App.Categories, lq.category, keys(res))
		}
		if top.Decisive != lq.decisive {
			t.Errorf("%q: decisive = %v, want %v (got %s)", lq.query, top.Decisive, lq.decisive, keys(res))
		}
		for i, r := range res {
			if i > 0 && r.Decisive {
				t.Errorf("%q: result %d (%s) is decisive", lq.query, i, r.App.Key)
			}
			if r.Score <= 0 || r.Score > 1 || (i > 0 && r.Score > res[i-1].Score) {
				t.Errorf("%q: bad score order at %d: %v", lq.query, i, scores(res))
				break
			}
		}
	}
}

func keys(res []Result) string {
	var b strings.Builder
	for _, r := range res {
		fmt.Fprintf(&b, "%s:%.3f ", r.App.Key, r.Score)
	}
	return b.String()
}

func scores(res []Result) []float64 {
	out := make([]float64, len(res))
	for i, r := range res {
		out[i] = r.Score
	}
	return out
}

func TestSearchRankingTiers(t *testing.T) {
	c := loadBuiltin(t, false)
	// A category word lists the category by popularity, primary category first.
	res := c.Search(Query{Text: "crm"})
	for _, r := range res[:5] {
		if !slices.Contains(r.App.Categories, "crm") {
			t.Errorf("crm: %s in the top 5", r.App.Key)
		}
	}
	if res[0].App.Key != "salesforce" || res[1].App.Key != "hubspot" {
		t.Errorf("crm order: %s", keys(res[:5]))
	}
	// Exact beats everything; a misspelling ranks below the category's apps.
	res = c.Search(Query{Text: "salesforce crm"})
	if res[0].App.Key != "salesforce" || !res[0].Decisive {
		t.Errorf("salesforce crm: %s", keys(res[:3]))
	}
	// "google" starts several names: all Google apps first, none decisive.
	res = c.Search(Query{Text: "google"})
	for _, r := range res[:5] {
		if !strings.HasPrefix(r.App.Key, "google") && r.App.Key != "gmail" {
			t.Errorf("google: %s", keys(res[:6]))
		}
	}
	if res[0].Decisive {
		t.Error("google must not be decisive")
	}
	// A weak substring match still finds something.
	if res := c.Search(Query{Text: "spot"}); len(res) == 0 || res[0].App.Key != "hubspot" || res[0].Decisive {
		t.Errorf("spot: %s", keys(res))
	}
}

func TestSearchListing(t *testing.T) {
	c := loadBuiltin(t, false)
	all := c.Search(Query{})
	if len(all) != DefaultLimit || all[0].App.Key != c.All()[0].Key {
		t.Errorf("empty query: %d results, first %s", len(all), all[0].App.Key)
	}
	if got := c.Search(Query{Limit: 5000}); len(got) != c.Len() {
		t.Errorf("limit above max: %d", len(got))
	}
	if got := c.Search(Query{Text: "   ", Limit: 3}); len(got) != 3 {
		t.Errorf("blank text: %d", len(got))
	}
	byCat := c.Search(Query{Category: "payments"})
	if len(byCat) == 0 {
		t.Fatal("no payments apps")
	}
	for i, r := range byCat {
		if !slices.Contains(r.App.Categories, "payments") || (i > 0 && lessByName(r.App, byCat[i-1].App)) {
			t.Errorf("category listing: %s", keys(byCat))
		}
	}
	// The filter accepts a synonym and applies to text search too.
	if got := c.Search(Query{Category: "help desk", Text: "zen"}); len(got) != 1 || got[0].App.Key != "zendesk" {
		t.Errorf("filtered search: %s", keys(got))
	}
	if got := c.Search(Query{Category: "crm", Text: "slack"}); len(got) != 0 {
		t.Errorf("slack is not a crm: %s", keys(got))
	}
	if got := c.Search(Query{Category: "no-such-category"}); got == nil || len(got) != 0 {
		t.Errorf("unknown category: %v", got)
	}
	if got := c.Search(Query{Text: "xqzvvk wpfjjq"}); len(got) != 0 {
		t.Errorf("nonsense matched: %s", keys(got))
	}
}

func TestSearchHostileInput(t *testing.T) {
	c := loadBuiltin(t, true)
	inputs := []string{
		strings.Repeat("a", 100000), strings.Repeat("hubspot ", 5000), "\x00\xff\xfe", "🙂🙂🙂", "://", "http://",
		"https://", "....", "a.b.c.d.e.f.g.h.i.j.k", "%%%", "日本語のCRM", "ß", "İstanbul", "\u0301\u0301",
		"https://[::1]:80/x", "user@slack.com", strings.Repeat("é", 3000),
	}
	for _, in := range inputs {
		start := time.Now()
		c.Search(Query{Text: in, Category: in, Limit: -1})
		c.Search(Query{Text: in})
		if d := time.Since(start); d > 50*time.Millisecond {
			t.Errorf("%.20q took %v", in, d)
		}
	}
	if res := c.Search(Query{Text: "user@slack.com"}); len(res) == 0 || res[0].App.Key != "slack" {
		t.Errorf("email address domain: %s", keys(res))
	}
}

func TestSearchConcurrent(t *testing.T) {
	c := loadBuiltin(t, false)
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				lq := labelledQueries[(i+g)%len(labelledQueries)]
				res := c.Search(Query{Text: lq.query, Limit: 3})
				if lq.app != "" && (len(res) == 0 || res[0].App.Key != lq.app) {
					t.Errorf("concurrent %q: %s", lq.query, keys(res))
				}
			}
			done <- true
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

// syntheticApps builds n plausible, valid apps with deterministic names.
func syntheticApps(n int) []*App {
	r := rand.New(rand.NewPCG(1, 2))
	syll := []string{"ka", "zu", "mi", "ro", "ven", "tal", "qui", "dor", "nex", "flo", "bri", "sa", "lu", "pex",
		"gar", "tor", "vi", "mon", "cel", "dra", "fin", "hol", "jex", "wim", "yar", "oz", "el", "ar", "sun", "pi"}
	suffix := []string{"", "", "", " Cloud", " Hub", " Desk", " Pay", " Mail", " Sync", " Flow", " HQ", " Works", " Books"}
	cats := CategoryKeys()
	apps := make([]*App, 0, n)
	for i := 0; i < n; i++ {
		var word strings.Builder
		for k := 0; k < 2+r.IntN(2); k++ {
			word.WriteString(syll[r.IntN(len(syll))])
		}
		base := word.String()
		name := strings.ToUpper(base[:1]) + base[1:] + suffix[r.IntN(len(suffix))]
		key := fmt.Sprintf("%s-%d", base, i)
		c1 := cats[r.IntN(len(cats))]
		categories := []string{c1}
		if c2 := cats[r.IntN(len(cats))]; r.IntN(2) == 0 && c2 != c1 {
			categories = append(categories, c2)
		}
		a := &App{
			Key: key, Name: name, Categories: categories, Popularity: r.IntN(101),
			Domains: []string{fmt.Sprintf("%s%d.io", base, i)},
			Logo:    "/static/logos/synthetic.svg",
			Auth: Auth{Type: AuthAPIKey, Fields: []Field{{Key: "apiKey", Secret: true}},
				Test: &TestRequest{URL: "https://api." + base + ".io/me", Headers: map[string]string{"Authorization": "Bearer {apiKey}"}}},
		}
		if r.IntN(3) == 0 {
			a.Aliases = []string{base + " app"}
		}
		apps = append(apps, a)
	}
	return apps
}

// mixedQueries draws a realistic mix over a catalog: exact names, typos,
// prefixes, category words, domains, free text and nonsense.
func mixedQueries(apps []*App, n int) []Query {
	r := rand.New(rand.NewPCG(3, 4))
	words := []string{"crm", "help desk", "invoices", "files", "mail", "tickets", "payroll", "video calls",
		"project management", "customer relationship", "calender", "acounting"}
	free := []string{"connect my %s account", "sync %s contacts", "%s integration", "%s crm"}
	out := make([]Query, n)
	for i := range out {
		a := apps[r.IntN(len(apps))]
		name := strings.ToLower(a.Name)
		var text string
		switch k := r.IntN(20); {
		case k < 5:
			text = a.Name
		case k < 10: // one edit: swap two letters or drop one
			b := []byte(name)
			p := 1 + r.IntN(max(1, len(b)-2))
			if r.IntN(2) == 0 && p+1 < len(b) {
				b[p], b[p+1] = b[p+1], b[p]
			} else {
				b = append(b[:p], b[p+1:]...)
			}
			text = string(b)
		case k < 13:
			text = name[:min(len(name), 2+r.IntN(4))]
		case k < 16:
			text = words[r.IntN(len(words))]
		case k < 17:
			text = "https://app." + a.Domains[0] + "/x"
		case k < 19:
			text = fmt.Sprintf(free[r.IntN(len(free))], name)
		default:
			text = "zzqx wvvk"
		}
		out[i] = Query{Text: text, Limit: 20}
	}
	return out
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func benchmarkSearch(b *testing.B, c *Catalog, qs []Query) {
	durs := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		c.Search(qs[i%len(qs)])
		durs = append(durs, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(durs, 0.50).Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(percentile(durs, 0.99).Nanoseconds())/1e3, "p99-µs")
}

func BenchmarkSearchCatalog(b *testing.B) {
	c := loadBuiltin(b, false)
	qs := mixedQueries(c.All(), 2000)
	for _, lq := range labelledQueries {
		qs = append(qs, Query{Text: lq.query, Limit: 20})
	}
	benchmarkSearch(b, c, qs)
}

func BenchmarkSearchSynthetic10k(b *testing.B) {
	apps := syntheticApps(10000)
	c, err := New(apps)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkSearch(b, c, mixedQueries(apps, 5000))
}

func BenchmarkBuildSynthetic10k(b *testing.B) {
	apps := syntheticApps(10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := New(apps); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSearchLatency10k guards against regressions with a bound far above the
// 200 µs p99 target, so a busy CI machine does not make it flaky.
func TestSearchLatency10k(t *testing.T) {
	if testing.Short() {
		t.Skip("latency check skipped in -short mode")
	}
	apps := syntheticApps(10000)
	c, err := New(apps)
	if err != nil {
		t.Fatal(err)
	}
	qs := mixedQueries(apps, 3000)
	durs := make([]time.Duration, len(qs))
	for i, q := range qs {
		start := time.Now()
		c.Search(q)
		durs[i] = time.Since(start)
	}
	p99 := percentile(durs, 0.99)
	t.Logf("10k apps: p50 %v, p99 %v", percentile(durs, 0.5), p99)
	if p99 > 2*time.Millisecond {
		t.Errorf("p99 %v over 10k apps", p99)
	}
}

func TestSyntheticNamesFound(t *testing.T) {
	apps := syntheticApps(10000)
	c, err := New(apps)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range apps[:200] {
		res := c.Search(Query{Text: a.Key, Limit: 3})
		if len(res) == 0 || res[0].App.Key != a.Key || !res[0].Decisive {
			t.Fatalf("key %q: %s", a.Key, keys(res))
		}
		res = c.Search(Query{Text: a.Name, Limit: 50})
		if !slices.ContainsFunc(res, func(r Result) bool { return r.App == a }) {
			t.Fatalf("name %q not found: %s", a.Name, keys(res))
		}
	}
}
