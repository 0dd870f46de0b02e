package popup

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

const ldquo, rdquo = "\u201c", "\u201d"

// quoted wraps s in typographic quotes, as the popup's copy does.
func quoted(s string) string { return ldquo + s + rdquo }

// pageTitle suffixes the brand so a popup window is recognisable in the task bar.
func pageTitle(t string) string {
	if t == "" {
		return "Hitch"
	}
	return t + " · Hitch"
}

// monogram is the fallback tile text for an app or workspace without a logo.
func monogram(name string) string {
	for _, r := range strings.TrimSpace(name) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return string(unicode.ToUpper(r))
		}
	}
	return "?"
}

func appName(a AppCard) string {
	if a.Name != "" {
		return a.Name
	}
	if a.Key != "" {
		return a.Key
	}
	return "the app"
}

func joinCategories(c []string) string { return strings.Join(c, " · ") }

func countLabel(n int) string {
	switch n {
	case 0:
		return "No apps"
	case 1:
		return "1 app"
	}
	return strconv.Itoa(n) + " apps"
}

// resultsCaption says what the list shows, so an intent-ranked list is not mistaken for "all apps".
func resultsCaption(p SearchPage) string {
	switch {
	case p.Query != "":
		return "Results for " + quoted(p.Query)
	case p.Intent != "":
		return "Suggested for " + quoted(p.Intent)
	}
	for _, c := range p.Categories {
		if c.Selected && c.Key != "" {
			return c.Label
		}
	}
	return "All apps"
}

func selectedCategoryLabel(p SearchPage) string {
	for _, c := range p.Categories {
		if c.Selected && c.Key != "" {
			return c.Label
		}
	}
	return ""
}

// scopeWords are scope fragments shown in capitals.
var scopeWords = map[string]string{
	"crm": "CRM", "api": "API", "id": "ID", "url": "URL", "oauth": "OAuth", "sms": "SMS",
	"readonly": "read-only", "openid": "OpenID",
}

// scopeLabel turns a raw scope like "crm.objects.contacts.read" or
// "https://www.googleapis.com/auth/gmail.readonly" into "Crm objects contacts read" style text
// a non-developer can skim; the raw scope is still shown beside it.
func scopeLabel(s string) string {
	t := s
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		t = strings.Trim(u.Path, "/")
		if i := strings.LastIndex(t, "/"); i >= 0 {
			t = t[i+1:]
		}
		if t == "" {
			t = u.Host
		}
	}
	words := strings.FieldsFunc(t, func(r rune) bool {
		return r == '.' || r == '_' || r == ':' || r == '/' || r == '-' || r == ' '
	})
	if len(words) == 0 {
		return s
	}
	for i, w := range words {
		lw := strings.ToLower(w)
		if v, ok := scopeWords[lw]; ok {
			words[i] = v
			continue
		}
		words[i] = lw
	}
	out := strings.Join(words, " ")
	r, n := utf8.DecodeRuneInString(out)
	return string(unicode.ToUpper(r)) + out[n:]
}

// showRawScope hides the raw scope when the label already says the same thing.
func showRawScope(s string) bool {
	return !strings.EqualFold(scopeLabel(s), s)
}

func fieldID(f Field) string { return "field-" + f.Key }

// fieldDescribedBy links help and error text to the input for screen readers.
func fieldDescribedBy(f Field) string {
	var ids []string
	if f.Error != "" {
		ids = append(ids, fieldID(f)+"-error")
	}
	if f.Help != "" {
		ids = append(ids, fieldID(f)+"-help")
	}
	return strings.Join(ids, " ")
}

// firstFocus is the index of the field that gets autofocus: the first invalid one, else the first.
func firstFocus(fs []Field) int {
	for i, f := range fs {
		if f.Error != "" {
			return i
		}
	}
	return 0
}

func boolAttr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func resultHeading(p ResultPage) string {
	if p.Heading != "" {
		return p.Heading
	}
	app := p.AppName
	switch p.Status {
	case StatusCompleted:
		if app != "" {
			return "Connected to " + app
		}
		return "Connected"
	case StatusCancelled:
		return "Connection cancelled"
	case StatusExpired:
		return "This session has expired"
	}
	if app != "" {
		return "Couldn't connect to " + app
	}
	return "Couldn't connect"
}

func resultMessage(p ResultPage) string {
	if p.Message != "" {
		return p.Message
	}
	switch p.Status {
	case StatusCompleted:
		if p.AppName != "" {
			return "Your " + p.AppName + " account is connected. You're all set."
		}
		return "Your account is connected. You're all set."
	case StatusCancelled:
		return "Nothing was connected. You can start again at any time."
	case StatusExpired:
		return "For your security, connect sessions last 30 minutes. Start again from the app you came from."
	}
	return "Something went wrong while connecting. Please try again."
}

func errorHeading(p ErrorPage) string {
	if p.Heading != "" {
		return p.Heading
	}
	switch p.Status {
	case 404:
		return "This link isn't valid"
	case 410:
		return "This link has expired"
	case 409:
		return "This link has already been used"
	case 403:
		return "This link can't be opened here"
	}
	return "Something went wrong"
}
