package console

import (
	"testing"
	"time"

	"github.com/hitchdev/hitch/internal/store"
)

func TestAggregateCache(t *testing.T) {
	day := time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)
	at := day.Add(13*24*time.Hour + time.Hour)
	var c aggregateCache
	if _, _, ok := c.get(day, at); ok {
		t.Fatal("an empty cache answered")
	}
	c.put(day, at, aggregates{counts: store.ConnectionCounts{Active: 7}})
	cases := []struct {
		name  string
		since time.Time
		now   time.Time
		hit   bool
	}{
		{"same window, fresh", day, at.Add(aggregateTTL - time.Second), true},
		{"same window, stale", day, at.Add(aggregateTTL), false},
		{"the window moved (a new day)", day.AddDate(0, 0, 1), at.Add(time.Second), false},
		{"clock went back", day, at.Add(-time.Second), false},
	}
	for _, tc := range cases {
		v, asOf, ok := c.get(tc.since, tc.now)
		if ok != tc.hit || (ok && (v.counts.Active != 7 || !asOf.Equal(at))) {
			t.Errorf("%s: get = %+v, %v, %v; want hit=%v", tc.name, v.counts, asOf, ok, tc.hit)
		}
	}
}
