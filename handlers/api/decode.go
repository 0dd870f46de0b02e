package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/hitchdev/hitch/handlers/middleware"
)

// MaxBody caps every request body (spec section 3).
const MaxBody = 1 << 20

// decodeJSON reads exactly one JSON object into v, refusing unknown fields,
// wrong types, trailing data and bodies over MaxBody. Every failure is a
// 4xx APIError whose message says what to fix.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &middleware.APIError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "Send the body as application/json."}
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge()
		}
		return middleware.BadRequest("invalid_body", "The request body could not be read.")
	}
	if len(body) > MaxBody {
		return tooLarge()
	}
	return decodeBytes(body, v)
}

func tooLarge() error {
	return &middleware.APIError{Status: http.StatusRequestEntityTooLarge, Code: "request_too_large", Message: "The request body is larger than 1 MiB."}
}

// decodeBytes is decodeJSON's parser, separate so it can be fuzzed.
func decodeBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return middleware.BadRequest("invalid_json", "The request body is empty; send a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return middleware.BadRequest("invalid_json", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return middleware.BadRequest("invalid_json", "The request body has data after the JSON object.")
	}
	return nil
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("The request body is not valid JSON (at byte %d).", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("The field %q must be %s, not %s.", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return fmt.Sprintf("The request body must be a JSON object, not %s.", typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "The request body is truncated JSON."
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Sprintf("The field %s is not accepted here.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return "The request body is not valid JSON."
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int64", "float64":
		return "a number"
	}
	return "of another type"
}
