package connect_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/connect"
	"github.com/hitchdev/hitch/internal/store"
)

// reference is what encoding/json writes for the view of c.
func reference(t testing.TB, c store.ConnectionSummary) []byte {
	t.Helper()
	b, err := json.Marshal(connect.ViewSummary(c))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkSame(t testing.TB, c store.ConnectionSummary) {
	t.Helper()
	want := reference(t, c)
	got := connect.AppendSummaryJSON([]byte("prefix"), &c)
	if !bytes.HasPrefix(got, []byte("prefix")) || !bytes.Equal(got[len("prefix"):], want) {
		t.Fatalf("AppendSummaryJSON differs from encoding/json\n got %s\nwant %s", got[len("prefix"):], want)
	}
	s := c.Name
	wantStr, _ := json.Marshal(s)
	if gotStr := connect.AppendJSONString(nil, s); !bytes.Equal(gotStr, wantStr) {
		t.Fatalf("AppendJSONString(%q) = %s, want %s", s, gotStr, wantStr)
	}
}

var awkward = []string{
	"", "plain", `quote " and \ backslash`, "<script>alert(1)</script> & co", "tab\tnew\nline\rcr\bbs\fff",
	"\x00\x01\x1f\x7f", "naïve café 日本語 🎉", "bad \xff utf8 \xc3", "line\u2028sep\u2029para", "\u00e9\u0301",
	"\xed\xa0\x80 surrogate", strings.Repeat("long ", 200),
}

func TestAppendSummaryJSONMatchesEncodingJSON(t *testing.T) {
	t1 := time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.FixedZone("X", 3600))
	t2 := time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)
	base := store.ConnectionSummary{
		ID: "con_01abc", TenantKey: "acme", AppKey: "hubspot", Name: "HubSpot", AuthType: "oauth2",
		CreatedAt: t1, UpdatedAt: t2,
	}
	checkSame(t, base)

	full := base
	full.Disconnected, full.RetryAttempts = true, 7
	full.ErrorCode, full.ErrorMessage = "invalid_grant", "The refresh token was revoked <at> the provider & gone."
	full.ArchivedAt, full.LastRefreshAt, full.NextRefreshAt = &t1, &t2, &t1
	full.Input = map[string]string{"subdomain": "acme", "a<b": "c&d", "": "", "Z": "é", "region": "eu\n"}
	checkSame(t, full)

	empty := base
	empty.Input = map[string]string{}
	empty.ErrorMessage = "message without code is not shown"
	empty.RetryAttempts = -1
	checkSame(t, empty)

	for _, s := range awkward {
		c := full
		c.ID, c.Name, c.TenantKey, c.AppKey, c.AuthType, c.ErrorCode, c.ErrorMessage = s, s, s, s, s, s+"x", s
		c.Input = map[string]string{s: s, s + "2": "v"}
		checkSame(t, c)
	}

	rnd := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		checkSame(t, randomSummary(rnd))
	}
}

func randomSummary(r *rand.Rand) store.ConnectionSummary {
	str := func() string {
		if r.IntN(3) == 0 {
			return awkward[r.IntN(len(awkward))]
		}
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	}
	tm := func() *time.Time {
		if r.IntN(2) == 0 {
			return nil
		}
		t := time.UnixMicro(r.Int64N(1 << 52)).In(time.FixedZone("Y", -r.IntN(50000)))
		return &t
	}
	c := store.ConnectionSummary{
		ID: str(), TenantKey: str(), AppKey: str(), Name: str(), AuthType: str(),
		Disconnected: r.IntN(2) == 0, RetryAttempts: r.IntN(100),
		CreatedAt: time.UnixMicro(r.Int64N(1 << 52)), UpdatedAt: time.UnixMicro(r.Int64N(1 << 52)).UTC(),
		ArchivedAt: tm(), LastRefreshAt: tm(), NextRefreshAt: tm(),
	}
	if r.IntN(2) == 0 {
		c.ErrorCode, c.ErrorMessage = str(), str()
	}
	if n := r.IntN(4); n > 0 {
		c.Input = map[string]string{}
		for range n {
			c.Input[str()] = str()
		}
	}
	return c
}

func FuzzAppendSummaryJSON(f *testing.F) {
	for _, s := range awkward {
		f.Add(s, s, s, int64(0), true)
	}
	f.Fuzz(func(t *testing.T, name, code, key string, micros int64, disconnected bool) {
		ts := time.UnixMicro(micros)
		c := store.ConnectionSummary{
			ID: "con_x", TenantKey: key, AppKey: key, Name: name, AuthType: "oauth2", Disconnected: disconnected,
			ErrorCode: code, ErrorMessage: name, CreatedAt: ts, UpdatedAt: ts, NextRefreshAt: &ts,
			Input: map[string]string{key: name, name: code},
		}
		checkSame(t, c)
	})
}
