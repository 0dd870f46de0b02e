package catalog

import (
	"errors"
	"testing"
	"time"
)

func FuzzSearch(f *testing.F) {
	for _, lq := range labelledQueries {
		f.Add(lq.query, "", 5)
	}
	f.Add("", "crm", 0)
	f.Add("https://[::1", "help desk", -3)
	f.Add("a.b.c", "ticketing", 2000)
	f.Add("\xff\xfe\x00", "\u0301", 1)
	c := loadBuiltin(f, true)
	f.Fuzz(func(t *testing.T, text, category string, limit int) {
		res := c.Search(Query{Text: text, Category: category, Limit: limit})
		want := limit
		if want <= 0 {
			want = DefaultLimit
		}
		if len(res) > min(want, MaxLimit) {
			t.Fatalf("%d results for limit %d", len(res), limit)
		}
		for i, r := range res {
			if r.App == nil || r.Score < 0 || r.Score > 1 || (i > 0 && r.Score > res[i-1].Score) || (i > 0 && r.Decisive) {
				t.Fatalf("bad result %d: %+v", i, r)
			}
		}
	})
}

func FuzzLoadYAML(f *testing.F) {
	f.Add(builtinYAML[:2000])
	f.Add([]byte("apps: []\n"))
	f.Add([]byte("apps:\n  - key: hubspot\n    auth: {clientId: ${X}}\n"))
	f.Add([]byte("apps:\n  - key: acme\n    name: Acme\n    categories: [crm]\n    auth:\n      type: apiKey\n      fields: [{key: k, pattern: '[a-'}]\n      test: {url: 'https://{k}.x/'}\n"))
	f.Add([]byte("apps:\n  - &a {key: x}\n  - *a\n  - <<: *a\n"))
	f.Add([]byte("apps: [{key: 1, name: 2, categories: {a: b}, auth: [x]}]\n---\napps: []\n"))
	f.Add([]byte("apps:\n  - key: x\n    name: |\n      multi\n    popularity: 99999999999999999999\n"))
	// The builtin file is parsed once; each input is merged over it as an apps file.
	base, err := parseEntries(builtinFile, builtinYAML)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		type res struct {
			c   *Catalog
			err error
		}
		ch := make(chan res, 1)
		go func() {
			c, err := assemble(Options{File: "fuzz.yaml", Getenv: noEnv, IncludeSandbox: true}, base, data)
			ch <- res{c, err}
		}()
		var c *Catalog
		var err error
		select {
		case r := <-ch:
			c, err = r.c, r.err
		case <-time.After(5 * time.Second):
			t.Fatalf("HANG on %q", data)
		}
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) || err.Error() == "" {
				t.Fatalf("error is not a *LoadError: %T %v", err, err)
			}
			return
		}
		for _, a := range c.All() {
			if _, ok := c.Get(a.Key); !ok {
				t.Fatalf("%s listed but not found", a.Key)
			}
			c.Search(Query{Text: a.Name})
		}
	})
}
