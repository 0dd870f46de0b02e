package catalog

import "math/bits"

// typoIndex finds the names, aliases and name words within one or two edits
// of a word. Each distinct string is indexed once with the terms that use it,
// so a word shared by many names ("Works", "Cloud") costs one check.
type typoIndex struct {
	texts  []typoText
	textID map[string]int32 // only while building
	// byLen lists text ids by length, with their letter masks apart so that
	// the filtering scan reads 16 bytes per candidate.
	byLen [maxTypoLen + 1]lenBucket
	// deletes finds one-edit matches without a scan: two strings within one
	// edit (OSA) always share a string reachable from each by at most one
	// deletion, so every text is filed under the hashes of itself and of its
	// one-deletion variants.
	deletes deleteTable
}

type typoText struct {
	text  string
	terms []int32
	full  bool // some term is a whole name or alias, not only a word of a name
}

type lenBucket struct {
	ids   []int32
	masks []termMasks
}

type termMasks struct{ once, twice uint64 }

type typoHit struct {
	text int32
	d    uint8
}

// add files term tid under its text; full says it is a whole name or alias.
func (ti *typoIndex) add(text string, tid int32, full bool) {
	if len(text) > maxTypoLen {
		return
	}
	if ti.textID == nil {
		ti.textID = map[string]int32{}
	}
	id, ok := ti.textID[text]
	if !ok {
		id = int32(len(ti.texts))
		ti.textID[text] = id
		ti.texts = append(ti.texts, typoText{text: text})
	}
	tt := &ti.texts[id]
	tt.terms = append(tt.terms, tid)
	tt.full = tt.full || full
}

// finish builds the length buckets and the deletion table.
func (ti *typoIndex) finish() {
	ti.textID = nil
	n := 0
	for _, tt := range ti.texts {
		n += len(tt.text) + 1
	}
	ti.deletes = newDeleteTable(n)
	for id, tt := range ti.texts {
		b := &ti.byLen[len(tt.text)]
		once, twice := charMasks(tt.text)
		b.ids = append(b.ids, int32(id))
		b.masks = append(b.masks, termMasks{once, twice})
		for skip := -1; skip < len(tt.text); skip++ {
			if skip > 0 && tt.text[skip] == tt.text[skip-1] {
				continue // same variant as deleting the previous byte
			}
			ti.deletes.insert(hashSkip(tt.text, skip), int32(id))
		}
	}
}

// typo adds evidence for the apps whose names, aliases or (when words is
// set) name words are within a few edits of t: one edit through the deletion
// index and, only when there is none, two edits for long words by a filtered
// scan (a two-edit match would rank below a one-edit one anyway). A run of
// query words joined together can only be a whole name, hence words. Only a
// match of whole may flag a result as decisive.
func (q *search) typo(t string, cover uint32, whole, words bool) bool {
	k := maxTypo(len(t))
	if k == 0 || len(t) > maxTypoLen {
		return false
	}
	hits := q.typoOne(t, words)
	if len(hits) == 0 && k >= 2 {
		hits = q.typoScan(t, 2, words)
	}
	ix, s := q.ix, q.s
	for _, h := range hits {
		penalty := 0.05 * float32(h.d-1)
		for _, tid := range ix.typos.texts[h.text].terms {
			tm := &ix.terms[tid]
			if tm.kind == termWord {
				if words {
					q.add(tm.app, tierWordTypo-penalty+0.01*ix.pop[tm.app], cover, 0)
				}
				continue
			}
			q.add(tm.app, tierTypo-penalty+0.01*ix.pop[tm.app], cover, 0)
			// Only a close misspelling may make a result decisive: one edit,
			// or two in a long word.
			if whole && (h.d == 1 || len(t) >= 9) && (q.filter == 0 || ix.catMask[tm.app]&q.filter != 0) {
				if prev := s.typo[tm.app]; prev == 0 || prev > h.d+1 {
					s.typo[tm.app] = h.d + 1
				}
			}
		}
	}
	return len(hits) > 0
}

// typoOne returns the texts exactly one edit from t, through the deletion index.
func (q *search) typoOne(t string, words bool) []typoHit {
	ti, s := &q.ix.typos, q.s
	hits := s.hits[:0]
	s.epoch++
	if s.epoch == 0 { // wrapped: stale marks could equal the new epoch
		clear(s.seen)
		s.epoch = 1
	}
	table := &ti.deletes
	for skip := -1; skip < len(t); skip++ {
		if skip > 0 && t[skip] == t[skip-1] {
			continue
		}
		h := hashSkip(t, skip)
		for i := table.home(h); table.slots[i].text >= 0; i = (i + 1) & table.mask {
			slot := &table.slots[i]
			if slot.hash != h || s.seen[slot.text] == s.epoch {
				continue // another hash, or a text already reached by another variant
			}
			s.seen[slot.text] = s.epoch
			tt := &ti.texts[slot.text]
			if (words || tt.full) && osa(t, tt.text, 1) == 1 {
				hits = append(hits, typoHit{text: slot.text, d: 1})
			}
		}
	}
	s.hits = hits
	return hits
}

// typoScan returns the texts exactly k edits from t by scanning the lengths
// within reach, skipping those whose letter counts alone rule them out.
func (q *search) typoScan(t string, k int, words bool) []typoHit {
	ti, s := &q.ix.typos, q.s
	once, twice := charMasks(t)
	hits := s.hits[:0]
	for l := max(1, len(t)-k); l <= min(maxTypoLen, len(t)+k); l++ {
		b := &ti.byLen[l]
		masks := b.masks[:len(b.ids)]
		for i, id := range b.ids {
			m := &masks[i]
			if bits.OnesCount64(once^m.once)+bits.OnesCount64(twice^m.twice) > 2*k {
				continue
			}
			tt := &ti.texts[id]
			if (words || tt.full) && osa(t, tt.text, k) == k {
				hits = append(hits, typoHit{text: id, d: uint8(k)})
			}
		}
	}
	s.hits = hits
	return hits
}

// deleteTable is an open-addressing multimap from hash to text id: a lookup
// touches one or two cache lines, where a sorted array would miss on every
// step of a binary search.
type deleteTable struct {
	slots []deleteSlot
	mask  uint64
}

type deleteSlot struct {
	hash uint64
	text int32 // -1: empty
}

func newDeleteTable(n int) deleteTable {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	slots := make([]deleteSlot, size)
	for i := range slots {
		slots[i].text = -1
	}
	return deleteTable{slots: slots, mask: uint64(size - 1)}
}

func (t *deleteTable) home(h uint64) uint64 { return (h * 0x9E3779B97F4A7C15 >> 32) & t.mask }

func (t *deleteTable) insert(h uint64, text int32) {
	i := t.home(h)
	for t.slots[i].text >= 0 {
		i = (i + 1) & t.mask
	}
	t.slots[i] = deleteSlot{hash: h, text: text}
}

// hashSkip is FNV-1a of s without the byte at skip (-1: all of s).
func hashSkip(s string, skip int) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		if i != skip {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
	}
	return h
}
