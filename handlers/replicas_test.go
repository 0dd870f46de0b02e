package handlers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hitchdev/hitch/internal/client/clienttest"
	"github.com/hitchdev/hitch/internal/store"
)

// TestListAcrossReplicas runs two Hitch servers on one database, each with its own list cache, and checks
// that a change made through either is in the next list read from the other: the list cache must never make
// a replica answer with a list another replica has already changed.
func TestListAcrossReplicas(t *testing.T) {
	for _, flavor := range []string{store.FlavorSQLite, store.FlavorPostgres} {
		t.Run(flavor, func(t *testing.T) {
			a := clienttest.StartWith(t, clienttest.Options{Flavor: flavor})
			b := clienttest.StartWith(t, clienttest.Options{ReplicaOf: a})
			tok := a.Token("acme")
			call := func(s *clienttest.Server, method, path, body string, hdr ...string) (int, http.Header, []byte) {
				t.Helper()
				req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				if body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				for i := 0; i+1 < len(hdr); i += 2 {
					req.Header.Set(hdr[i], hdr[i+1])
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				raw, _ := io.ReadAll(res.Body)
				return res.StatusCode, res.Header, raw
			}
			create := func(s *clienttest.Server) string {
				t.Helper()
				status, _, body := call(s, "POST", "/connect", `{"appKey":"sandbox-apikey","credentials":{"apiKey":"sandbox-good"}}`)
				var r struct{ Connection struct{ ID string } }
				if status != http.StatusCreated || json.Unmarshal(body, &r) != nil || r.Connection.ID == "" {
					t.Fatalf("create through %s: %d %s", s.URL, status, body)
				}
				return r.Connection.ID
			}
			list := func(s *clienttest.Server) (string, []byte) {
				t.Helper()
				status, h, body := call(s, "GET", "/connections", "")
				if status != 200 {
					t.Fatalf("list on %s: %d %s", s.URL, status, body)
				}
				return h.Get("ETag"), body
			}

			first := create(a)
			// Both replicas have read (and cached) the list before the next changes.
			tagA, _ := list(a)
			tagB, bodyB := list(b)
			if tagA != tagB || !bytes.Contains(bodyB, []byte(first)) {
				t.Fatalf("replicas disagree on the first list: %s / %s: %s", tagA, tagB, bodyB)
			}
			if status, _, _ := call(b, "GET", "/connections", "", "If-None-Match", tagB); status != http.StatusNotModified {
				t.Fatalf("unchanged list on b: %d, want 304", status)
			}

			second := create(b) // written through b, read from a's cache next
			if tag, body := list(a); tag == tagA || !bytes.Contains(body, []byte(second)) {
				t.Fatalf("a served its cached list after b created %s: %s", second, body)
			}
			if status, _, _ := call(a, "DELETE", "/connections/"+first, ""); status != 200 {
				t.Fatalf("archive through a: %d", status)
			}
			tag, body := list(b)
			if bytes.Contains(body, []byte(first)) || !bytes.Contains(body, []byte(second)) {
				t.Fatalf("b's list after a archived %s: %s", first, body)
			}
			if status, _, _ := call(b, "GET", "/connections", "", "If-None-Match", tagB); status != 200 {
				t.Fatalf("b answered 304 to the tag of a list that has changed since: %d", status)
			}
			if tagA2, _ := list(a); tagA2 != tag {
				t.Fatalf("the replicas give the same list different tags: %s / %s", tagA2, tag)
			}
		})
	}
}
