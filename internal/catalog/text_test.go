package catalog

import (
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
)

// refOSA is the textbook full-matrix restricted Damerau-Levenshtein distance.
func refOSA(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func TestOSAMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	word := func() string {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = "abcde"[r.IntN(5)]
		}
		return string(b)
	}
	for n := 0; n < 20000; n++ {
		a, b := word(), word()
		if r.IntN(3) == 0 { // near neighbours exercise the small distances
			bb := []byte(a)
			if len(bb) > 1 {
				p := r.IntN(len(bb) - 1)
				bb[p], bb[p+1] = bb[p+1], bb[p]
			}
			b = string(bb)
		}
		want := refOSA(a, b)
		for max := 0; max <= 3; max++ {
			got := osa(a, b, max)
			if (want <= max && got != want) || (want > max && got != max+1) {
				t.Fatalf("osa(%q, %q, %d) = %d, reference %d", a, b, max, got, want)
			}
		}
		// The mask bound must never reject a pair within reach.
		ao, at := charMasks(a)
		bo, bt := charMasks(b)
		if lb := bits.OnesCount64(ao^bo) + bits.OnesCount64(at^bt); lb > 2*want {
			t.Fatalf("mask bound %d > 2*%d for %q %q", lb, want, a, b)
		}
	}
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"hubspt", "hubspot", 1}, {"salesfroce", "salesforce", 1}, {"jria", "jira", 1}, {"googlecalender", "googlecalendar", 1}} {
		if got := osa(tt.a, tt.b, 2); got != tt.d {
			t.Errorf("osa(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"HubSpot", "hubspot"},
		{"  Zéndesk!!  ", "zendesk"},
		{"Help-Desk / Tickets", "help desk tickets"},
		{"Cal.com", "cal com"},
		{"Don't", "dont"},
		{"Ærø Straße", "aero strasse"},
		{"Zoe\u0301", "zoe"},
		{"日本語CRM", "日本語crm"},
		{"\x00\xff", ""},
	}
	for _, tt := range tests {
		if got := normalize(tt.in); got != tt.want {
			t.Errorf("normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := normalize(strings.Repeat("ab ", 1000)); len(got) > maxQueryBytes+4 {
		t.Errorf("normalize did not bound its output: %d bytes", len(got))
	}
	if got := tokenize(strings.Repeat("x ", 100)); len(got) != maxTokens {
		t.Errorf("tokenize kept %d tokens", len(got))
	}
}

func TestStem(t *testing.T) {
	for in, want := range map[string]string{"tickets": "ticket", "companies": "company", "business": "business",
		"sms": "sms", "files": "file", "invoices": "invoice", "hr": "hr"} {
		if got := stem(in); got != want {
			t.Errorf("stem(%q) = %q, want %q", in, got, want)
		}
	}
}
