// Command hitch-load measures GET /connections on a tenant with many
// connections against a bare Echo JSON handler, both served and loaded in the
// same process run so the ratio is fair. It only talks to loopback.
//
//	go run ./cmd/hitch-load -db 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable' -connections 10000 -duration 10s
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hitchdev/hitch/handlers"
	"github.com/hitchdev/hitch/internal/auth"
	"github.com/hitchdev/hitch/internal/catalog"
	"github.com/hitchdev/hitch/internal/config"
	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
)

func main() {
	db := flag.String("db", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL URL (a fresh schema is created and dropped) or sqlite://path")
	n := flag.Int("connections", 10000, "connections to seed in one tenant")
	dur := flag.Duration("duration", 10*time.Second, "load duration per target")
	conc := flag.Int("concurrency", 16, "concurrent clients")
	limit := flag.Int("limit", 100, "page size")
	writes := flag.Int("writes", 100, "connection writes per second during the \"with writes\" run (each one changes the tenant's list)")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "hitch-load:", err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*db, *n, *dur, *conc, *limit, *writes); err != nil {
		fmt.Fprintln(os.Stderr, "hitch-load:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(dbURL string, n int, dur time.Duration, conc, limit, writes int) error {
	ctx := context.Background()
	dbURL, cleanup, err := freshSchema(ctx, dbURL)
	if err != nil {
		return err
	}
	defer cleanup()
	s, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		return err
	}
	seedStart := time.Now()
	if err := seed(ctx, s, n); err != nil {
		return err
	}
	if err := s.Analyze(ctx); err != nil {
		return err
	}
	fmt.Printf("seeded %d connections on %s in %s\n", n, s.Flavor(), time.Since(seedStart).Round(time.Millisecond))

	spec, _ := secrets.Generate("load")
	keys, _ := secrets.Parse(spec)
	cat, err := catalog.Load(catalog.Options{Getenv: func(string) string { return "" }, IncludeSandbox: true})
	if err != nil {
		return err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	issuer, err := auth.NewIssuer("load", secret, time.Now)
	if err != nil {
		return err
	}
	tok, _ := issuer.Mint(auth.Principal{TenantKey: "load"}, time.Hour)
	pub, _ := url.Parse("http://127.0.0.1")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	hitch := handlers.New(handlers.Deps{Config: &config.Config{PublicURL: pub}, Store: s, Catalog: cat, Keys: keys, Issuer: issuer, Log: log, Registry: reg})
	uncached := handlers.New(handlers.Deps{Config: &config.Config{PublicURL: pub, ListCache: -1}, Store: s, Catalog: cat, Keys: keys, Issuer: issuer, Log: log})

	// The baseline: the same page of 100 connections, precomputed, from a bare Echo handler.
	rows, _, err := s.ListConnections(ctx, store.ConnectionFilter{TenantKey: "load", Limit: limit})
	if err != nil {
		return err
	}
	views := make([]connect.Connection, len(rows))
	for i, r := range rows {
		views[i] = connect.View(r)
	}
	bare := echo.New()
	bare.GET("/connections", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"items": views, "cursor": "x"})
	})

	path := fmt.Sprintf("/connections?limit=%d", limit)
	bareRes, err := load("bare echo", bare, path, "", dur, conc)
	if err != nil {
		return err
	}
	hitchRes, err := load("hitch GET /connections", hitch, path, tok, dur, conc)
	if err != nil {
		return err
	}
	// A deep page: the keyset cursor must keep it as fast as the first.
	deep, err := deepCursor(ctx, s, limit, n/2)
	if err != nil {
		return err
	}
	deepRes, err := load("hitch deep page", hitch, path+"&cursor="+url.QueryEscape(deep), tok, dur, conc)
	if err != nil {
		return err
	}
	// The list changing under the readers: every write makes the next read of each page render it again.
	stopWrites, wrote := writeLoad(ctx, s, writes)
	writesRes, err := load(fmt.Sprintf("hitch, %d writes/s", writes), hitch, path, tok, dur, conc)
	made := stopWrites()
	if err != nil {
		return err
	}
	if *wrote != nil {
		return *wrote
	}
	// Every page read from the database and rendered: the cost of a list that changes on every read.
	uncachedRes, err := load("hitch, list cache off", uncached, path, tok, dur, conc)
	if err != nil {
		return err
	}
	fmt.Printf("\nlist pages served by the cached server: %s\n", pagesServed(reg))
	fmt.Printf("ratio hitch/bare: %.1f%% (target >= 40%%)\n", 100*hitchRes/bareRes)
	fmt.Printf("ratio deep page/bare: %.1f%%\n", 100*deepRes/bareRes)
	fmt.Printf("ratio with %d writes/s (%d made)/bare: %.1f%%\n", writes, made, 100*writesRes/bareRes)
	fmt.Printf("ratio list cache off/bare: %.1f%%\n", 100*uncachedRes/bareRes)
	return nil
}

// pagesServed reads the list cache's counters from the server's metrics.
func pagesServed(reg *prometheus.Registry) string {
	families, err := reg.Gather()
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, f := range families {
		if f.GetName() != "hitch_list_pages_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				parts = append(parts, fmt.Sprintf("%s %.0f", l.GetValue(), m.GetCounter().GetValue()))
			}
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func seed(ctx context.Context, s *store.Store, n int) error {
	now := time.Now().UTC()
	for start := 0; start < n; start += 1000 {
		err := s.InTx(ctx, func(q *store.Queries) error {
			if start == 0 {
				if err := q.UpsertTenant(ctx, "load", "Load Inc.", now); err != nil {
					return err
				}
			}
			for i := start; i < start+1000 && i < n; i++ {
				c := store.Connection{
					ID: store.NewID("con"), TenantKey: "load", AppKey: "hubspot", Name: fmt.Sprintf("HubSpot %d", i),
					AuthType: "oauth2", Credentials: []byte("sealed-placeholder-bytes"), KeyID: "load",
					Input: map[string]string{}, CreatedAt: now, UpdatedAt: now,
				}
				if err := q.InsertConnection(ctx, &c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// writeLoad renames a random connection of the tenant perSecond times a second until stopped; stop
// returns how many writes were made. The first error, if any, is left in *err after stop.
func writeLoad(ctx context.Context, s *store.Store, perSecond int) (stop func() int, err *error) {
	err = new(error)
	if perSecond <= 0 {
		return func() int { return 0 }, err
	}
	ids, _, listErr := s.ListConnectionSummaries(ctx, store.ConnectionFilter{TenantKey: "load", Limit: store.MaxLimit})
	if listErr != nil || len(ids) == 0 {
		*err = fmt.Errorf("write load: %v", listErr)
		return func() int { return 0 }, err
	}
	done := make(chan struct{})
	var made int
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			c, e := s.GetConnection(ctx, ids[made%len(ids)].ID, "load")
			if e == nil {
				c.Name, c.UpdatedAt = fmt.Sprintf("HubSpot renamed %d", made), time.Now()
				e = s.UpdateConnection(ctx, &c)
			}
			if e != nil {
				*err = e
				return
			}
			made++
		}
	})
	return func() int { close(done); wg.Wait(); return made }, err
}

func deepCursor(ctx context.Context, s *store.Store, limit, skip int) (string, error) {
	cursor := ""
	for seen := 0; seen < skip; seen += limit {
		_, next, err := s.ListConnections(ctx, store.ConnectionFilter{TenantKey: "load", Limit: limit, Cursor: cursor})
		if err != nil {
			return "", err
		}
		cursor = next
	}
	return cursor, nil
}

// load serves h on a loopback port and drives it with conc closed-loop
// clients for dur, printing throughput and latency percentiles.
func load(name string, h http.Handler, path, token string, dur time.Duration, conc int) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()
	target := "http://" + ln.Addr().String() + path
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}

	// Warm up and check the answer is a real page.
	if err := check(client, target, token); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for time.Now().Before(deadline) {
				t0 := time.Now()
				req, _ := http.NewRequest("GET", target, nil)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				res, err := client.Do(req)
				if err != nil {
					bad++
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					bad++
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	rps := float64(len(lat)) / dur.Seconds()
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(p*float64(len(lat)-1))]
	}
	fmt.Printf("%-24s %8.0f req/s  p50 %-9s p99 %-9s errors %d\n", name, rps, pct(.50).Round(time.Microsecond), pct(.99).Round(time.Microsecond), errs)
	return rps, nil
}

func check(client *http.Client, target, token string) error {
	req, _ := http.NewRequest("GET", target, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var body struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 || len(body.Items) == 0 {
		return fmt.Errorf("warm-up answered %d with %d items (%v)", res.StatusCode, len(body.Items), err)
	}
	return nil
}

// freshSchema gives a PostgreSQL run its own schema, dropped afterwards.
func freshSchema(ctx context.Context, dbURL string) (string, func(), error) {
	if !strings.HasPrefix(dbURL, "postgres") {
		return dbURL, func() {}, nil
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	schema := "hitch_load_" + hex.EncodeToString(b)
	admin, err := store.Open(ctx, dbURL)
	if err != nil {
		return "", nil, err
	}
	if _, err := admin.DB().ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return "", nil, err
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		_, _ = admin.DB().ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	}, nil
}
