package catalog

import (
	"fmt"
	"strings"
)

// FieldError says which field's value is missing or unacceptable. It never
// carries the value itself, which may be a secret.
type FieldError struct {
	Field  string // field key
	Reason string
}

// Error names the field and the reason, never the value.
// Error names the field and the reason, never the value.
func (e *FieldError) Error() string { return fmt.Sprintf("field %s: %s", e.Field, e.Reason) }

// Expand fills each {field} in tmpl from input (or the field's default). Every
// value is checked against its field's pattern first; in a URL template (one
// with "://" or starting with "/") values are further limited to characters
// that cannot change the URL's structure. Problems are *FieldError.
func (a *App) Expand(tmpl string, input map[string]string) (string, error) {
	inURL := strings.Contains(tmpl, "://") || strings.HasPrefix(tmpl, "/")
	var firstErr error
	out := placeholderRe.ReplaceAllStringFunc(tmpl, func(m string) string {
		if firstErr != nil {
			return ""
		}
		key := m[1 : len(m)-1]
		val, err := a.fieldValue(key, input)
		if err == nil && inURL && !urlSafe(val) {
			err = &FieldError{Field: key, Reason: "contains characters not allowed in a URL"}
		}
		if err != nil {
			firstErr = err
			return ""
		}
		return val
	})
	if firstErr != nil {
		return "", firstErr
	}
	return out, nil
}

// fieldValue returns the checked value of one declared field.
func (a *App) fieldValue(key string, input map[string]string) (string, error) {
	f, ok := a.Field(key)
	if !ok {
		return "", &FieldError{Field: key, Reason: "is not a field of " + a.Key}
	}
	return f.check(input[key])
}

func (f *Field) check(raw string) (string, error) {
	val := strings.TrimSpace(raw)
	if val == "" {
		if f.Default != "" {
			return f.Default, nil
		}
		if f.Optional {
			return "", nil
		}
		return "", &FieldError{Field: f.Key, Reason: "is required"}
	}
	if len(val) > 4096 {
		return "", &FieldError{Field: f.Key, Reason: "is too long"}
	}
	for _, r := range val {
		if r < 0x20 || r == 0x7f {
			return "", &FieldError{Field: f.Key, Reason: "contains control characters"}
		}
	}
	if !f.Match(val) {
		reason := "has an invalid format"
		if f.Placeholder != "" {
			reason += " (expected something like " + f.Placeholder + ")"
		}
		return "", &FieldError{Field: f.Key, Reason: reason}
	}
	return val, nil
}

// urlSafe allows RFC 3986 unreserved characters only, so a value can name a
// subdomain or a path segment but never add a host, port, path or query.
func urlSafe(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return !strings.Contains(s, "..")
}

// ValidateInput checks a connect form against the app's fields and returns
// the cleaned values (trimmed, defaults filled, unknown keys dropped). The
// first problem is returned as a *FieldError.
func (a *App) ValidateInput(input map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(a.Auth.Fields))
	for i := range a.Auth.Fields {
		f := &a.Auth.Fields[i]
		val, err := f.check(input[f.Key])
		if err != nil {
			return nil, err
		}
		if val != "" {
			out[f.Key] = val
		}
	}
	return out, nil
}

// PublicInput keeps the non-secret field values, the ones a Connection may show as input.
func (a *App) PublicInput(input map[string]string) map[string]string {
	out := map[string]string{}
	for _, f := range a.Auth.Fields {
		if v, ok := input[f.Key]; ok && !f.Secret {
			out[f.Key] = v
		}
	}
	return out
}
