package catalog

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds on query work: longer input is cut, never rejected.
const (
	maxQueryBytes = 256
	maxTokens     = 16
	maxTypoLen    = 48 // longer strings are never compared by edit distance
)

// foldTable maps lower-case Latin letters with diacritics to plain ASCII.
var foldTable = func() map[rune]string {
	groups := map[string]string{
		"a": "àáâãäåāăą", "c": "çćĉċč", "d": "ďđð", "e": "èéêëēĕėęě", "g": "ĝğġģ", "h": "ĥħ",
		"i": "ìíîïĩīĭįı", "j": "ĵ", "k": "ķ", "l": "ĺļľŀł", "n": "ñńņňŉ", "o": "òóôõöøōŏő",
		"r": "ŕŗř", "s": "śŝşšș", "t": "ţťŧț", "u": "ùúûüũūŭůűų", "w": "ŵ", "y": "ýÿŷ", "z": "źżž",
		"ae": "æ", "oe": "œ", "ss": "ß", "th": "þ",
	}
	m := map[rune]string{}
	for plain, accented := range groups {
		for _, r := range accented {
			m[r] = plain
		}
	}
	return m
}()

// normalize lower-cases s, folds diacritics, drops apostrophes and combining
// marks, and turns any other punctuation or space run into one space.
func normalize(s string) string {
	var b strings.Builder
	b.Grow(min(len(s), maxQueryBytes))
	pendingSpace := false
	write := func(str string) {
		if pendingSpace && b.Len() > 0 {
			b.WriteByte(' ')
		}
		pendingSpace = false
		b.WriteString(str)
	}
	for _, r := range s {
		if b.Len() >= maxQueryBytes {
			break
		}
		if r < utf8.RuneSelf {
			c := byte(r)
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
				if pendingSpace && b.Len() > 0 {
					b.WriteByte(' ')
				}
				pendingSpace = false
				b.WriteByte(c)
				continue
			}
			if c == '\'' {
				continue
			}
			pendingSpace = true
			continue
		}
		if r == '’' || r == '‘' || unicode.Is(unicode.Mn, r) {
			continue
		}
		r = unicode.ToLower(r)
		if f, ok := foldTable[r]; ok {
			write(f)
			continue
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			write(string(r))
			continue
		}
		pendingSpace = true
	}
	return b.String()
}

// tokenize normalizes s into at most maxTokens words.
func tokenize(s string) []string {
	t := strings.Fields(normalize(s))
	if len(t) > maxTokens {
		t = t[:maxTokens]
	}
	return t
}

// stem strips a plural ending, enough for "tickets"/"invoices"/"companies".
func stem(t string) string {
	switch {
	case len(t) > 4 && strings.HasSuffix(t, "ies"):
		return t[:len(t)-3] + "y"
	case len(t) > 3 && strings.HasSuffix(t, "s") && !strings.HasSuffix(t, "ss"):
		return t[:len(t)-1]
	}
	return t
}

// stopwords carry no intent ("connect my HubSpot account").
var stopwords = map[string]bool{
	"a": true, "an": true, "the": true, "my": true, "our": true, "your": true, "their": true, "to": true,
	"for": true, "with": true, "and": true, "or": true, "of": true, "in": true, "on": true, "at": true,
	"from": true, "into": true, "by": true, "i": true, "we": true, "me": true, "us": true, "is": true,
	"connect": true, "connecting": true, "connection": true, "connections": true, "link": true,
	"integrate": true, "integration": true, "integrations": true, "sync": true, "app": true, "apps": true,
	"account": true, "accounts": true, "tool": true, "tools": true, "software": true, "platform": true,
	"service": true, "services": true, "want": true, "need": true, "please": true, "use": true,
	"using": true, "add": true, "setup": true, "set": true, "up": true, "www": true, "http": true,
	"https": true, "com": true, "send": true, "sending": true, "get": true, "make": true, "create": true,
	"manage": true, "managing": true, "accept": true, "receive": true, "collect": true, "share": true,
}

// maxTypo is how many edits a word of length n may be away from a name and still match.
func maxTypo(n int) int {
	switch {
	case n < 4:
		return 0
	case n <= 7:
		return 1
	default:
		return 2
	}
}

// charMasks returns two 64-bit sets: the bytes of s seen at least once and at
// least twice. The letter-count (L1) distance of two strings is at least the
// sum of the popcounts of their masks' XORs, and one edit changes it by at
// most two, so that sum > 2k proves an edit distance > k without computing it.
func charMasks(s string) (once, twice uint64) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		var bit uint64
		switch {
		case c >= 'a' && c <= 'z':
			bit = 1 << (c - 'a')
		case c >= '0' && c <= '9':
			bit = 1 << (26 + c - '0')
		case c == ' ':
			continue
		default:
			bit = 1 << (36 + c%28)
		}
		twice |= once & bit
		once |= bit
	}
	return once, twice
}

// osa is the optimal-string-alignment (restricted Damerau-Levenshtein)
// distance between a and b in bytes, or limit+1 as soon as it must exceed
// limit. Only the diagonal band |i-j| <= limit is computed: cells outside it
// cannot lead to a distance within limit.
func osa(a, b string, limit int) int {
	la, lb := len(a), len(b)
	if la > maxTypoLen || lb > maxTypoLen {
		return limit + 1
	}
	if d := la - lb; d > limit || -d > limit {
		return limit + 1
	}
	if la == 0 || lb == 0 {
		return la + lb
	}
	const inf = 255
	var buf [3][maxTypoLen + 1]uint8
	prev2, prev, cur := &buf[0], &buf[1], &buf[2]
	for j := 0; j <= lb; j++ {
		prev[j] = inf
		if j <= limit {
			prev[j] = uint8(j)
		}
	}
	for i := 1; i <= la; i++ {
		lo, hi := i-limit, i+limit
		if lo < 1 {
			lo = 1
		}
		if hi > lb {
			hi = lb
		}
		for j := 0; j < lo; j++ {
			cur[j] = inf
		}
		if lo == 1 {
			cur[0] = inf
			if i <= limit {
				cur[0] = uint8(i)
			}
		}
		rowMin := uint8(inf)
		if i <= limit {
			rowMin = cur[0]
		}
		ai := a[i-1]
		for j := lo; j <= hi; j++ {
			v := uint8(inf)
			if x := prev[j-1]; x < inf {
				if ai == b[j-1] {
					v = x
				} else {
					v = x + 1
				}
			}
			if x := prev[j]; x < inf && x+1 < v {
				v = x + 1
			}
			if x := cur[j-1]; x < inf && x+1 < v {
				v = x + 1
			}
			if i > 1 && j > 1 && ai == b[j-2] && a[i-2] == b[j-1] {
				if x := prev2[j-2]; x < inf && x+1 < v {
					v = x + 1
				}
			}
			cur[j] = v
			if v < rowMin {
				rowMin = v
			}
		}
		for j := hi + 1; j <= lb; j++ {
			cur[j] = inf
		}
		if int(rowMin) > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	if d := int(prev[lb]); d <= limit {
		return d
	}
	return limit + 1
}
