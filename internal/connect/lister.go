package connect

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/sync/singleflight"

	"github.com/hitchdev/hitch/internal/store"
)

// Page is one rendered page of a connection list: the JSON document the API sends and its entity tag.
// Body is shared between callers and must not be modified.
type Page struct {
	Body []byte
	ETag string // strong, quoted: "…"
}

// Lister serves pages of connection lists. Pages of one tenant are rendered once and kept in a
// per-process cache; every call first reads the tenant's list version (one indexed read that database
// triggers keep current on every write, whichever replica made it) and serves the kept page only when it
// shows the list as of that version or later (see cachedPage.fresh). A list is therefore never staler than
// a fresh query would be, on any replica, while a repeated read skips the page query, its decoding and its
// rendering. Lists across all tenants (an admin without a tenant filter) are not cached.
type Lister struct {
	store *store.Store

	mu     sync.Mutex
	pages  *simplelru.LRU[pageKey, *cachedPage] // nil: caching off
	bytes  int64                                // the cached pages' footprint
	budget int64

	flights singleflight.Group

	hits, misses, shared, uncached atomic.Int64
}

// pageKey is everything that selects a page besides the version.
type pageKey struct {
	tenant, app, search, cursor string
	disconnected                int8 // 0 any, 1 false, 2 true
	archived                    bool
	limit                       int
}

type cachedPage struct {
	Page
	version  int64
	rendered time.Time // when its query started (monotonic): the page shows the list as of a later instant
	size     int64
}

// fresh reports whether p may answer a call that began at start and then read version. The same version
// proves nothing listed changed. A later version means p was rendered after a write this call's version
// read did not see: versions only grow, so p's query ran after that read and shows the list as of an
// instant inside this call, as a fresh query would (a read takes effect at some instant between request
// and response). The render-time condition keeps that from resting on versions only growing: after a
// database restore moved them back, a page rendered before this call began is not served on a comparison.
func (p *cachedPage) fresh(start time.Time, version int64) bool {
	return p.version == version || p.version > version && p.rendered.After(start)
}

// maxPages bounds the number of cached pages whatever their size; the byte budget usually binds first.
const maxPages = 1 << 16

// NewLister returns a Lister that keeps up to budget bytes of rendered pages; budget <= 0 turns the
// cache off (every call queries and renders).
func NewLister(s *store.Store, budget int64) *Lister {
	l := &Lister{store: s, budget: budget}
	if budget > 0 {
		// The callback runs inside the LRU's calls, which l.mu already guards.
		l.pages, _ = simplelru.NewLRU(maxPages, func(_ pageKey, p *cachedPage) { l.bytes -= p.size })
	}
	return l
}

// ListerStats counts how Page calls were served.
type ListerStats struct {
	Hits     int64 // from the cache
	Misses   int64 // renders of a changed or new page (kept in the cache unless too large)
	Shared   int64 // calls that waited for another caller's render of the same page (and so did not render)
	Uncached int64 // rendered without the cache: cache off, or every tenant at once
	Pages    int64 // what the cache holds now
	Bytes    int64
}

// Stats reports the Lister's counters.
func (l *Lister) Stats() ListerStats {
	st := ListerStats{Hits: l.hits.Load(), Misses: l.misses.Load(), Shared: l.shared.Load(), Uncached: l.uncached.Load()}
	if l.pages != nil {
		l.mu.Lock()
		st.Pages, st.Bytes = int64(l.pages.Len()), l.bytes
		l.mu.Unlock()
	}
	return st
}

// Page returns the page of connections f selects, newest first. Its errors are the store's
// (store.ErrInvalidCursor for a cursor that is not one of ours).
func (l *Lister) Page(ctx context.Context, f store.ConnectionFilter) (*Page, error) {
	if l.pages == nil || f.TenantKey == "" {
		l.uncached.Add(1)
		return l.render(ctx, f)
	}
	// The version is read before the page: a write committed between the two reads leaves the page newer
	// than its version, so the next call sees a higher version and renders again. The other order could
	// keep a page older than its version for good.
	start := time.Now()
	version, err := l.store.ConnectionListVersion(ctx, f.TenantKey)
	if err != nil {
		return nil, err
	}
	key := keyOf(f)
	l.mu.Lock()
	p, ok := l.pages.Get(key)
	l.mu.Unlock()
	if ok && p.fresh(start, version) {
		l.hits.Add(1)
		return &p.Page, nil
	}
	// One render per page and version, however many callers missed it at once: after a write, every
	// client polling the list would otherwise query the same page together.
	led := false // set only by this caller's function, when it is the one that runs
	flight := l.flights.DoChan(key.flight(version), func() (any, error) {
		led = true
		// A render that finished between our lookup and now has kept its page already.
		l.mu.Lock()
		p, ok := l.pages.Peek(key)
		l.mu.Unlock()
		if ok && p.fresh(start, version) {
			l.hits.Add(1)
			return &p.Page, nil
		}
		l.misses.Add(1)
		// The render outlives a caller that gives up, for the others waiting on it, within a bound.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), renderTimeout)
		defer cancel()
		rendered := time.Now()
		page, err := l.render(rctx, f)
		if err != nil {
			return nil, err
		}
		l.keep(key, &cachedPage{Page: *page, version: version, rendered: rendered, size: pageSize(key, page)})
		return page, nil
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-flight:
		if r.Err != nil {
			return nil, r.Err
		}
		if !led {
			l.shared.Add(1)
		}
		return r.Val.(*Page), nil
	}
}

// renderTimeout bounds a shared render.
const renderTimeout = 30 * time.Second

// flight names a render of the page at a version for singleflight.
func (k pageKey) flight(version int64) string {
	var b strings.Builder
	b.Grow(len(k.tenant) + len(k.app) + len(k.search) + len(k.cursor) + 48)
	for _, s := range []string{k.tenant, k.app, k.search, k.cursor} {
		b.WriteString(strconv.Itoa(len(s))) // length-prefixed, so no two keys join to the same text
		b.WriteByte(':')
		b.WriteString(s)
	}
	fmt.Fprintf(&b, "%d/%t/%d/%d", k.disconnected, k.archived, k.limit, version)
	return b.String()
}

// keep caches p unless it is too large to be worth its share of the budget, or a page of a later version
// rendered later is already kept under its key (a slower caller finishing last must not put an older page
// back; a kept page of a higher version rendered earlier is what a database restore leaves behind).
func (l *Lister) keep(key pageKey, p *cachedPage) {
	if p.size > l.budget/8 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if had, ok := l.pages.Peek(key); ok {
		if had.version > p.version && had.rendered.After(p.rendered) {
			return
		}
		l.pages.Remove(key) // through the callback, so its bytes are returned
	}
	l.pages.Add(key, p)
	l.bytes += p.size
	for l.bytes > l.budget {
		l.pages.RemoveOldest()
	}
}

// pageSize is a page's footprint in the cache: its body and key, plus the bookkeeping around them.
func pageSize(k pageKey, p *Page) int64 {
	return int64(cap(p.Body) + len(p.ETag) + len(k.tenant) + len(k.app) + len(k.search) + len(k.cursor) + 256)
}

func keyOf(f store.ConnectionFilter) pageKey {
	k := pageKey{tenant: f.TenantKey, app: f.AppKey, search: f.Search, cursor: f.Cursor, archived: f.IncludeArchived, limit: f.Limit}
	if k.limit <= 0 {
		k.limit = store.DefaultLimit // "no limit" and the default are the same page
	}
	if f.Disconnected != nil {
		k.disconnected = 1
		if *f.Disconnected {
			k.disconnected = 2
		}
	}
	return k
}

// render queries a page and renders it into a buffer of exactly its size.
func (l *Lister) render(ctx context.Context, f store.ConnectionFilter) (*Page, error) {
	rows, next, err := l.store.ListConnectionSummaries(ctx, f)
	if err != nil {
		return nil, err
	}
	bp := renderBuffers.Get().(*[]byte)
	b := AppendPageJSON((*bp)[:0], rows, next)
	body := append([]byte(nil), b...)
	*bp = b
	if cap(b) <= 1<<20 { // an occasional huge page is left to the GC
		renderBuffers.Put(bp)
	}
	return &Page{Body: body, ETag: entityTag(body)}, nil
}

// renderBuffers recycles the buffers pages are rendered into before they are copied out at their size.
var renderBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// AppendPageJSON appends a list response, {"items":[…],"cursor":…}, as encoding/json's Encoder writes it
// (newline included): the rows by AppendSummaryJSON, the cursor null after the last page.
func AppendPageJSON(dst []byte, rows []store.ConnectionSummary, next string) []byte {
	dst = append(dst, `{"items":[`...)
	for i := range rows {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendSummaryJSON(dst, &rows[i])
	}
	dst = append(dst, `],"cursor":`...)
	if next == "" {
		dst = append(dst, "null"...)
	} else {
		dst = AppendJSONString(dst, next)
	}
	return append(dst, "}\n"...)
}

// entityTag is a strong entity tag for body: 144 bits of its SHA-256, so equal bodies get equal tags on
// every replica.
func entityTag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// ETagMatches reports whether an If-None-Match header value matches etag under the weak comparison RFC 9110
// section 13.1.2 prescribes for it: "*", or any listed tag whose opaque part equals etag's, W/ or not.
func ETagMatches(header, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for header != "" {
		header = strings.TrimLeft(header, " \t,")
		if header == "" {
			return false
		}
		if header[0] == '*' {
			return true
		}
		header = strings.TrimPrefix(header, "W/")
		if header == "" || header[0] != '"' {
			return false // not an entity tag: the rest cannot be read reliably
		}
		end := strings.IndexByte(header[1:], '"')
		if end < 0 {
			return false
		}
		if header[:end+2] == want {
			return true
		}
		header = header[end+2:]
	}
	return false
}
