package catalog

import (
	"math"
	"math/bits"
	"net/url"
	"sort"
	"strings"
)

// Query is a catalog search.
type Query struct {
	Text     string // free-text intent; "" lists by name
	Category string // optional category key (or a synonym of one) to filter by
	Limit    int    // default 50, at most 1000
}

// Result is one ranked app.
type Result struct {
	App   *App
	Score float64 // 0..1, higher is better
	// Decisive is set on the first result when the query clearly names that one app.
	Decisive bool
}

// Search limits.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// Ranking tiers, best first. Every match of a query word gives an app
// evidence at one tier; the app's score is its best tier plus a small bonus
// for the share of the query's words it explains, so "hubspot crm" puts
// HubSpot above the other CRMs.
const (
	tierExact      = 1.00 // the whole query is a key, name or alias
	tierDomain     = 0.97 // a URL or domain of the app
	tierPhrase     = 0.90 // a name or alias among other words
	tierPrefix     = 0.75 // start of a name or alias (+ up to 0.08)
	tierWordPrefix = 0.70 // start of one word of a name (+ up to 0.045)
	tierCategory   = 0.60 // category word or synonym (+ up to 0.09)
	tierTypo       = 0.58 // misspelled name or alias, one edit (-0.05 per more)
	tierWordTypo   = 0.48 // misspelled word of a name
	tierFuzzyCat   = 0.40 // misspelled category word (+ up to 0.055)
	tierSubstring  = 0.30 // weak: inside a name (+ up to 0.05)
	coverBonus     = 0.08
	maxScore       = tierExact + coverBonus
)

// Evidence flags.
const (
	evStrong       uint8 = 1 << iota // exact, domain or phrase: the query names the app
	evPrefixStrong                   // a long prefix of a name
)

type termKind uint8

const (
	termName termKind = iota
	termAlias
	termKey
	termWord // one word of a multi-word name
)

type term struct {
	text string
	app  int32
	kind termKind
}

type synWord struct {
	text        string
	cat         int
	once, twice uint64
}

// index is the precomputed search structure; app ids are positions in apps (sorted by name).
type index struct {
	apps     []*App
	exact    map[string][]int32
	domains  map[string][]int32
	terms    []term
	byPrefix []int32 // term ids sorted by text
	typos    typoIndex
	trigrams map[uint32][]int32 // over name/alias/key terms
	catMask  []uint64
	primary  []int8
	pop      []float32
	catApps  [][]int32 // per category: member app ids, best category score first
	synonyms map[string]int
	synWords []synWord
	maxSyn   int
}

func buildIndex(apps []*App) *index {
	ix := &index{
		apps:     apps,
		exact:    map[string][]int32{},
		domains:  map[string][]int32{},
		trigrams: map[uint32][]int32{},
		catMask:  make([]uint64, len(apps)),
		primary:  make([]int8, len(apps)),
		pop:      make([]float32, len(apps)),
		catApps:  make([][]int32, len(categories)),
		synonyms: map[string]int{},
	}
	ix.buildSynonyms()
	seenTerm := map[string]bool{}
	for i, a := range apps {
		id := int32(i)
		ix.pop[i] = float32(a.Popularity) / 100
		ix.primary[i] = -1
		for j, c := range a.Categories {
			ci := categoryIndex(c)
			if ci < 0 {
				continue
			}
			if j == 0 {
				ix.primary[i] = int8(ci)
			}
			ix.catMask[i] |= 1 << uint(ci)
			ix.catApps[ci] = append(ix.catApps[ci], id)
		}
		// Whole names, keys and aliases first, so a word of the name that is
		// also a key or alias ("QuickBooks Online" / quickbooks) stays a full term.
		clear(seenTerm)
		addFull := func(s string, kind termKind) []string {
			toks := tokenize(s)
			full := strings.Join(toks, "")
			if full == "" {
				return nil
			}
			ix.addExact(full, id)
			if content := strings.Join(contentTokens(toks), ""); content != "" && content != full {
				ix.addExact(content, id)
			}
			if !seenTerm[full] {
				seenTerm[full] = true
				ix.addTerm(term{text: full, app: id, kind: kind})
			}
			return toks
		}
		nameToks := addFull(a.Name, termName)
		addFull(a.Key, termKey)
		for _, al := range a.Aliases {
			addFull(al, termAlias)
		}
		if len(nameToks) > 1 {
			for _, w := range contentTokens(nameToks) {
				if len(w) >= 3 && !seenTerm[w] {
					seenTerm[w] = true
					ix.addTerm(term{text: w, app: id, kind: termWord})
				}
			}
		}
		for _, d := range a.Domains {
			d = strings.ToLower(d)
			ix.domains[d] = appendUnique(ix.domains[d], id)
		}
	}
	ix.typos.finish()
	ix.byPrefix = make([]int32, len(ix.terms))
	for i := range ix.byPrefix {
		ix.byPrefix[i] = int32(i)
	}
	sort.Slice(ix.byPrefix, func(i, j int) bool { return ix.terms[ix.byPrefix[i]].text < ix.terms[ix.byPrefix[j]].text })
	for ci := range ix.catApps {
		list := ix.catApps[ci]
		sort.SliceStable(list, func(i, j int) bool {
			return ix.catScore(list[i], ci, false) > ix.catScore(list[j], ci, false)
		})
	}
	return ix
}

func (ix *index) buildSynonyms() {
	for ci, c := range categories {
		words := append([]string{c.key, c.name}, c.synonyms...)
		for _, w := range words {
			toks := contentTokens(tokenize(w))
			if len(toks) == 0 {
				continue
			}
			for i := range toks {
				toks[i] = stem(toks[i])
			}
			key := strings.Join(toks, " ")
			if _, taken := ix.synonyms[key]; taken {
				continue // first category listed wins a shared word
			}
			ix.synonyms[key] = ci
			ix.maxSyn = max(ix.maxSyn, len(toks))
			if len(toks) == 1 && len(key) >= 4 {
				once, twice := charMasks(key)
				ix.synWords = append(ix.synWords, synWord{text: key, cat: ci, once: once, twice: twice})
			}
		}
	}
}

func (ix *index) addExact(s string, id int32) {
	ix.exact[s] = appendUnique(ix.exact[s], id)
}

func (ix *index) addTerm(t term) {
	tid := int32(len(ix.terms))
	ix.terms = append(ix.terms, t)
	if t.kind != termKey { // keys repeat names; a misspelled key is a misspelled name
		ix.typos.add(t.text, tid, t.kind != termWord)
	}
	if t.kind != termWord {
		for i := 0; i+3 <= len(t.text); i++ {
			g := trigram(t.text[i:])
			if p := ix.trigrams[g]; len(p) == 0 || p[len(p)-1] != tid {
				ix.trigrams[g] = append(p, tid)
			}
		}
	}
}

func trigram(s string) uint32 { return uint32(s[0])<<16 | uint32(s[1])<<8 | uint32(s[2]) }

func appendUnique(list []int32, id int32) []int32 {
	for _, x := range list {
		if x == id {
			return list
		}
	}
	return append(list, id)
}

func contentTokens(toks []string) []string {
	out := make([]string, 0, len(toks))
	for _, t := range toks {
		if !stopwords[t] {
			out = append(out, t)
		}
	}
	return out
}

// catScore orders apps inside a category: popularity, then whether the category is the app's first.
func (ix *index) catScore(id int32, ci int, fuzzy bool) float32 {
	var primary float32
	if int(ix.primary[id]) == ci {
		primary = 0.03
	}
	if fuzzy {
		return tierFuzzyCat + 0.025*ix.pop[id] + primary
	}
	return tierCategory + 0.06*ix.pop[id] + primary
}

// scratch is per-query working memory, pooled so a search allocates little.
type scratch struct {
	score   []float32
	cover   []uint32
	flags   []uint8
	typo    []uint8 // best full-name typo distance + 1; 0 = none
	touched []int32
	heap    []int32
	final   []float32
	hits    []typoHit
	// seen[text] == epoch marks a typo candidate already checked by the
	// current lookup; bumping epoch clears every mark at once.
	seen  []uint32
	epoch uint32
}

func newScratch(apps, texts int) *scratch {
	return &scratch{
		score: make([]float32, apps), cover: make([]uint32, apps), flags: make([]uint8, apps),
		typo: make([]uint8, apps), final: make([]float32, apps), seen: make([]uint32, texts),
	}
}

func (s *scratch) reset() {
	for _, id := range s.touched {
		s.score[id], s.cover[id], s.flags[id], s.typo[id], s.final[id] = 0, 0, 0, 0, 0
	}
	s.touched = s.touched[:0]
	s.heap = s.heap[:0]
}

// search is one query in progress.
type search struct {
	ix     *index
	s      *scratch
	filter uint64 // category mask; 0 = all
}

func (q *search) add(id int32, tier float32, cover uint32, flags uint8) {
	if q.filter != 0 && q.ix.catMask[id]&q.filter == 0 {
		return
	}
	s := q.s
	if s.score[id] == 0 && s.cover[id] == 0 && s.flags[id] == 0 {
		s.touched = append(s.touched, id)
	}
	if tier > s.score[id] {
		s.score[id] = tier
	}
	s.cover[id] |= cover
	s.flags[id] |= flags
}

// Search ranks apps for q. It never fails: text that matches nothing gives
// an empty list, and no text lists the apps (of the category) by name.
func (c *Catalog) Search(q Query) []Result {
	ix := c.idx
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var filter uint64
	if q.Category != "" {
		ci := ix.resolveCategory(q.Category)
		if ci < 0 {
			return []Result{}
		}
		filter = 1 << uint(ci)
	}
	toks := tokenize(q.Text)
	if len(toks) == 0 {
		return ix.list(filter, limit)
	}
	s := c.scratch.Get().(*scratch)
	defer func() { s.reset(); c.scratch.Put(s) }()
	run := &search{ix: ix, s: s, filter: filter}
	run.collect(strings.TrimSpace(q.Text), toks)
	return run.rank(limit)
}

func (ix *index) resolveCategory(cat string) int {
	if ci := categoryIndex(cat); ci >= 0 {
		return ci
	}
	toks := contentTokens(tokenize(cat))
	for i := range toks {
		toks[i] = stem(toks[i])
	}
	if ci, ok := ix.synonyms[strings.Join(toks, " ")]; ok {
		return ci
	}
	return -1
}

func (ix *index) list(filter uint64, limit int) []Result {
	out := make([]Result, 0, min(limit, len(ix.apps)))
	for i, a := range ix.apps {
		if len(out) == limit {
			break
		}
		if filter == 0 || ix.catMask[i]&filter != 0 {
			out = append(out, Result{App: a})
		}
	}
	return out
}

type catHit struct {
	cat   int
	cover uint32
	fuzzy bool
}

// collect gathers evidence for every app the query could mean.
func (q *search) collect(raw string, toks []string) {
	ix := q.ix
	all := uint32(1)<<uint(len(toks)) - 1

	// A bare URL or domain names its app; nothing else in it is intent.
	if !strings.ContainsAny(raw, " \t\r\n") && strings.Contains(raw, ".") {
		if q.domain(raw, all) {
			return
		}
	}

	var content uint32
	for i, t := range toks {
		if !stopwords[t] {
			content |= 1 << uint(i)
		}
	}
	if content == 0 {
		content = all
	}
	// The whole query is a name: list it, then other names that start the same way.
	for i, whole := range []string{strings.Join(toks, ""), joinMasked(toks, content)} {
		if ids, ok := ix.exact[whole]; ok {
			for _, id := range ids {
				q.add(id, tierExact-0.01*float32(i), all, evStrong)
			}
			q.prefix(whole, all, false)
			return
		}
	}

	idx := make([]int, 0, len(toks)) // positions of content words
	for i := range toks {
		if content&(1<<uint(i)) != 0 {
			idx = append(idx, i)
		}
	}
	used := make([]bool, len(idx))

	// Names and aliases among other words, longest first.
	for n := min(4, len(idx)); n >= 1; n-- {
		for i := 0; i+n <= len(idx); i++ {
			if anyUsed(used[i : i+n]) {
				continue
			}
			var b strings.Builder
			var cover uint32
			for _, p := range idx[i : i+n] {
				b.WriteString(toks[p])
				cover |= 1 << uint(p)
			}
			if ids, ok := ix.exact[b.String()]; ok {
				for _, id := range ids {
					q.add(id, tierPhrase, cover, evStrong)
				}
				markUsed(used[i : i+n])
			}
		}
	}

	// Category words and their synonyms, longest first.
	var cats []catHit
	for n := min(ix.maxSyn, len(idx)); n >= 1; n-- {
		for i := 0; i+n <= len(idx); i++ {
			if anyUsed(used[i : i+n]) {
				continue
			}
			words := make([]string, n)
			var cover uint32
			for k, p := range idx[i : i+n] {
				words[k] = stem(toks[p])
				cover |= 1 << uint(p)
			}
			if ci, ok := ix.synonyms[strings.Join(words, " ")]; ok {
				cats = append(cats, catHit{cat: ci, cover: cover})
				markUsed(used[i : i+n])
			}
		}
	}

	// What is left may be the start of a name, a misspelling, or part of a name.
	var rest []int
	for k, p := range idx {
		if !used[k] {
			rest = append(rest, p)
		}
	}
	// Only a match that explains all of the leftover words can make a result
	// decisive: in "google calender" the misspelled pair names one app, while
	// "google" alone starts several.
	var restMask uint32
	for _, p := range rest {
		restMask |= 1 << uint(p)
	}
	for _, p := range rest {
		t, cover := toks[p], uint32(1)<<uint(p)
		whole := cover == restMask
		hit, exact := q.prefix(t, cover, whole)
		if !exact { // a word that is already a name needs no spelling fix
			hit = q.typo(t, cover, whole, true) || hit
		}
		if ci, ok := ix.fuzzyCategory(stem(t)); ok {
			cats = append(cats, catHit{cat: ci, cover: cover, fuzzy: true})
		}
		if !hit {
			q.substring(t, cover)
		}
	}
	if len(rest) >= 2 && len(rest) <= 4 {
		var b strings.Builder
		for _, p := range rest {
			b.WriteString(toks[p])
		}
		q.prefix(b.String(), restMask, true)
		q.typo(b.String(), restMask, true, false)
	}

	for _, h := range cats {
		for _, id := range ix.catApps[h.cat] {
			q.add(id, ix.catScore(id, h.cat, h.fuzzy), h.cover, 0)
		}
	}
}

func joinMasked(toks []string, mask uint32) string {
	var b strings.Builder
	for i, t := range toks {
		if mask&(1<<uint(i)) != 0 {
			b.WriteString(t)
		}
	}
	return b.String()
}

func anyUsed(u []bool) bool {
	for _, x := range u {
		if x {
			return true
		}
	}
	return false
}

func markUsed(u []bool) {
	for i := range u {
		u[i] = true
	}
}

// domain matches a URL or host against app domains, walking up to parent
// domains (app.hubspot.com -> hubspot.com).
func (q *search) domain(raw string, cover uint32) bool {
	host := raw
	if strings.Contains(host, "://") {
		u, err := url.Parse(host)
		if err != nil {
			return false
		}
		host = u.Hostname()
	} else {
		if i := strings.IndexAny(host, "/?#"); i >= 0 {
			host = host[:i]
		}
		if i := strings.LastIndexByte(host, ':'); i >= 0 {
			host = host[:i]
		}
		if i := strings.LastIndexByte(host, '@'); i >= 0 {
			host = host[i+1:]
		}
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	found := false
	for depth := 0; depth < 6 && strings.Contains(host, "."); depth++ {
		if ids, ok := q.ix.domains[host]; ok {
			for _, id := range ids {
				q.add(id, tierDomain, cover, evStrong)
			}
			found = true
			break
		}
		host = host[strings.IndexByte(host, '.')+1:]
	}
	return found
}

// prefix finds names, aliases and name words that start with t.
// Only a match of whole may flag a result as decisive. It reports whether
// anything matched and whether t is itself a whole name, alias or name word.
func (q *search) prefix(t string, cover uint32, whole bool) (hit, exact bool) {
	if len(t) < 2 {
		return false, false
	}
	ix := q.ix
	terms := ix.terms
	start := sort.Search(len(ix.byPrefix), func(i int) bool { return terms[ix.byPrefix[i]].text >= t })
	for i, n := start, 0; i < len(ix.byPrefix) && n < 3000; i, n = i+1, n+1 {
		tm := &terms[ix.byPrefix[i]]
		if !strings.HasPrefix(tm.text, t) {
			break
		}
		ratio := float32(len(t)) / float32(len(tm.text))
		hit = true
		exact = exact || len(tm.text) == len(t)
		if tm.kind == termWord {
			q.add(tm.app, tierWordPrefix+0.03*ratio+0.015*ix.pop[tm.app], cover, 0)
			continue
		}
		var fl uint8
		if whole && ratio >= 0.6 && len(t) >= 5 {
			fl = evPrefixStrong
		}
		q.add(tm.app, tierPrefix+0.02*ratio+0.06*ix.pop[tm.app], cover, fl)
	}
	return hit, exact
}

// fuzzyCategory maps a misspelled category word ("calender") to its category.
func (ix *index) fuzzyCategory(t string) (int, bool) {
	k := maxTypo(len(t))
	if k == 0 {
		return 0, false
	}
	once, twice := charMasks(t)
	best, bestD := -1, k+1
	for _, w := range ix.synWords {
		if bits.OnesCount64(once^w.once)+bits.OnesCount64(twice^w.twice) > 2*k {
			continue
		}
		if d := osa(t, w.text, k); d < bestD {
			best, bestD = w.cat, d
		}
	}
	return best, best >= 0
}

// substring finds names and aliases containing t (at least 3 bytes) through the trigram index.
func (q *search) substring(t string, cover uint32) {
	if len(t) < 3 {
		return
	}
	ix := q.ix
	var posting []int32
	for i := 0; i+3 <= len(t); i++ {
		p := ix.trigrams[trigram(t[i:])]
		if len(p) == 0 {
			return
		}
		if posting == nil || len(p) < len(posting) {
			posting = p
		}
	}
	for n, tid := range posting {
		if n >= 5000 {
			break
		}
		tm := &ix.terms[tid]
		if strings.Contains(tm.text, t) {
			ratio := float32(len(t)) / float32(len(tm.text))
			q.add(tm.app, tierSubstring+0.04*ratio+0.01*ix.pop[tm.app], cover, 0)
		}
	}
}

// rank orders the touched apps and decides whether the top one is decisive.
func (q *search) rank(limit int) []Result {
	s, ix := q.s, q.ix
	var allCover uint32
	for _, id := range s.touched {
		allCover |= s.cover[id]
	}
	words := float32(bits.OnesCount32(allCover))
	if words == 0 {
		words = 1
	}
	less := func(a, b int32) bool { // a ranks below b
		if s.final[a] != s.final[b] {
			return s.final[a] < s.final[b]
		}
		if ix.pop[a] != ix.pop[b] {
			return ix.pop[a] < ix.pop[b]
		}
		return a > b // app ids follow name order
	}
	h := s.heap[:0]
	for _, id := range s.touched {
		s.final[id] = s.score[id] + coverBonus*float32(bits.OnesCount32(s.cover[id]))/words
		if len(h) < limit {
			h = append(h, id)
			siftUp(h, len(h)-1, less)
		} else if less(h[0], id) {
			h[0] = id
			siftDown(h, 0, less)
		}
	}
	s.heap = h
	sort.Slice(h, func(i, j int) bool { return less(h[j], h[i]) })
	out := make([]Result, len(h))
	for i, id := range h {
		out[i] = Result{App: ix.apps[id], Score: math.Round(float64(s.final[id]/maxScore)*1e4) / 1e4}
	}
	if len(h) > 0 {
		out[0].Decisive = q.decisive(h[0])
	}
	return out
}

// decisive reports whether top is the one app the query names: the only app
// named exactly (name, alias, key, domain), or failing that the only app
// within the fewest edits of a close misspelling, or the only app whose name
// the query starts most of.
func (q *search) decisive(top int32) bool {
	s := q.s
	var strong, prefixStrong, typoBestN int
	var strongID, prefixID, typoID int32 = -1, -1, -1
	typoBest := uint8(255)
	for _, id := range s.touched {
		if s.flags[id]&evStrong != 0 {
			strong++
			strongID = id
		}
		if s.flags[id]&evPrefixStrong != 0 {
			prefixStrong++
			prefixID = id
		}
		if d := s.typo[id]; d != 0 {
			switch {
			case d < typoBest:
				typoBest, typoBestN, typoID = d, 1, id
			case d == typoBest:
				typoBestN++
			}
		}
	}
	switch {
	case strong > 0:
		return strong == 1 && strongID == top
	case typoBestN == 1 && typoID == top: // a close misspelling with no rival as close
		return prefixStrong == 0 || prefixID == top
	case prefixStrong == 1 && prefixID == top:
		return typoBestN == 0 || typoID == top
	}
	return false
}

func siftUp(h []int32, i int, less func(a, b int32) bool) {
	for i > 0 {
		p := (i - 1) / 2
		if !less(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func siftDown(h []int32, i int, less func(a, b int32) bool) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && less(h[r], h[l]) {
			m = r
		}
		if !less(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
