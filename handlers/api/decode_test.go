package api

import (
	"errors"
	"testing"

	"github.com/hitchdev/hitch/handlers/middleware"
)

// FuzzDecodeJSON checks the body parser never panics and fails only with a
// 4xx APIError.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"appKey":"x","credentials":{"a":"b"}}`, `[`, `{"intent":1}`, `null`, `{"a":1} x`, "\xff", `{"credentials":{"k":null}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req connectRequest
		err := decodeBytes(body, &req)
		if err == nil {
			return
		}
		var ae *middleware.APIError
		if !errors.As(err, &ae) || ae.Status < 400 || ae.Status > 499 || ae.Message == "" {
			t.Fatalf("decode error is not a 4xx APIError: %v", err)
		}
	})
}
