package catalog

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// The catalog is decoded by walking the YAML AST by hand rather than with
// yaml.Unmarshal: every value keeps its line for error messages, unknown keys
// are refused where they stand, and an override entry can be applied key by
// key over a builtin one.

// entry is one app as read from a file, with where each of its values came from.
type entry struct {
	app  *App
	node ast.Node
	src  *source
}

// source locates an app's values for error messages.
type source struct {
	file  string
	index int // position in its file's apps list
	line  int // line of the entry
	pos   map[string]srcPos
}

type srcPos struct {
	file  string
	index int
	line  int
}

// errf builds a LoadError for path (relative to the app, e.g. "auth.tokenUrl"),
// placed at the nearest recorded value: the value itself, else its parents, else the entry.
func (s *source) errf(path, format string, args ...any) *LoadError {
	msg := fmt.Sprintf(format, args...)
	file, index, line := s.file, s.index, s.line
	for p := path; ; {
		if at, ok := s.pos[p]; ok {
			file, index, line = at.file, at.index, at.line
			break
		}
		cut := strings.LastIndexAny(p, ".[")
		if cut <= 0 {
			break
		}
		p = p[:cut]
	}
	field := fmt.Sprintf("apps[%d]", index)
	if path != "" {
		field += "." + path
	}
	return &LoadError{File: file, Line: line, Field: field, Msg: msg}
}

// decoder walks one file's AST and collects problems instead of stopping at the first.
type decoder struct {
	file string
	errs []error
	src  *source // app being decoded
}

func (d *decoder) fail(n ast.Node, field, format string, args ...any) {
	d.errs = append(d.errs, &LoadError{File: d.file, Line: lineOf(n), Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) appField(path string) string {
	return fmt.Sprintf("apps[%d].%s", d.src.index, path)
}

func (d *decoder) record(n ast.Node, path string) {
	d.src.pos[path] = srcPos{file: d.file, index: d.src.index, line: lineOf(n)}
}

func lineOf(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// parseEntries parses a catalog document: a top-level "apps:" list.
func parseEntries(file string, data []byte) (entries []*entry, err error) {
	root, err := parseRoot(file, data)
	if err != nil {
		return nil, err
	}
	d := &decoder{file: file}
	top, ok := d.mapping(root, "")
	if !ok {
		return nil, joinErrors(d.errs)
	}
	var list ast.Node
	for _, kv := range top {
		k, kn := d.key(kv)
		switch k {
		case "apps":
			list = kv.Value
		default:
			d.fail(kn, k, "unknown key (the file holds one top-level key, apps)")
		}
	}
	if list == nil && len(d.errs) == 0 {
		d.fail(root, "apps", "missing: the file must have a top-level apps: list")
	}
	seq, _ := d.sequence(list, "apps")
	firstLine := map[string]int{}
	for i, item := range seq {
		src := &source{file: file, index: i, line: lineOf(item), pos: map[string]srcPos{}}
		d.src = src
		app := &App{}
		d.decodeApp(item, app)
		if app.Key != "" {
			if l, dup := firstLine[app.Key]; dup {
				d.errs = append(d.errs, src.errf("key", "duplicate key %q (first at line %d)", app.Key, l))
			} else {
				firstLine[app.Key] = src.pos["key"].line
			}
		}
		entries = append(entries, &entry{app: app, node: item, src: src})
	}
	if len(d.errs) > 0 {
		return nil, joinErrors(d.errs)
	}
	return entries, nil
}

func parseRoot(file string, data []byte) (root ast.Node, err error) {
	// The parser is third-party code fed operator input; a panic in it must
	// become an error that names the file, not a crash.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, &LoadError{File: file, Msg: fmt.Sprintf("invalid YAML (%v)", r)}
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) {
			le := &LoadError{File: file, Msg: "invalid YAML: " + ye.GetMessage()}
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				le.Line = tk.Position.Line
			}
			return nil, le
		}
		return nil, &LoadError{File: file, Msg: "invalid YAML: " + err.Error()}
	}
	var docs []*ast.DocumentNode
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc)
		}
	}
	switch {
	case len(docs) == 0:
		return nil, &LoadError{File: file, Field: "apps", Msg: "missing: the file must have a top-level apps: list"}
	case len(docs) > 1:
		return nil, &LoadError{File: file, Line: lineOf(docs[1].Body), Msg: "expected a single YAML document"}
	}
	return docs[0].Body, nil
}

// mergeEntries applies overrides over base by key; new keys are appended.
func mergeEntries(base, overrides []*entry) []*entry {
	at := make(map[string]int, len(base))
	out := make([]*entry, len(base), len(base)+len(overrides))
	copy(out, base)
	for i, e := range base {
		at[e.app.Key] = i
	}
	for _, o := range overrides {
		i, ok := at[o.app.Key]
		if !ok {
			out = append(out, o)
			continue
		}
		b := out[i]
		merged := *b.app // decodeApp replaces slices and maps, never edits them in place
		src := &source{file: o.src.file, index: o.src.index, line: o.src.line, pos: make(map[string]srcPos, len(b.src.pos)+len(o.src.pos))}
		for k, v := range b.src.pos {
			src.pos[k] = v
		}
		d := &decoder{file: o.src.file, src: src}
		d.decodeApp(o.node, &merged)
		out[i] = &entry{app: &merged, node: o.node, src: src}
	}
	return out
}

func (d *decoder) decodeApp(n ast.Node, a *App) {
	base := fmt.Sprintf("apps[%d]", d.src.index)
	m, ok := d.mapping(n, base)
	if !ok {
		return
	}
	for _, kv := range m {
		k, kn := d.key(kv)
		v := kv.Value
		d.record(kn, k)
		switch k {
		case "key":
			a.Key, _ = d.str(v, d.appField(k))
		case "name":
			a.Name, _ = d.str(v, d.appField(k))
		case "categories":
			a.Categories = d.strList(v, k)
		case "aliases":
			a.Aliases = d.strList(v, k)
		case "domains":
			a.Domains = d.strList(v, k)
		case "logo":
			a.Logo, _ = d.str(v, d.appField(k))
		case "docsUrl":
			a.DocsURL, _ = d.str(v, d.appField(k))
		case "popularity":
			a.Popularity, _ = d.integer(v, d.appField(k))
		case "sandbox":
			a.Sandbox, _ = d.boolean(v, d.appField(k))
		case "auth":
			d.decodeAuth(v, &a.Auth)
		default:
			d.fail(kn, d.appField(k), "unknown key")
		}
	}
}

func (d *decoder) decodeAuth(n ast.Node, au *Auth) {
	m, ok := d.mapping(n, d.appField("auth"))
	if !ok {
		return
	}
	// Switching type in an override starts from a clean slate: leftovers of
	// the builtin entry's other type would only confuse validation.
	for _, kv := range m {
		if k, _ := d.key(kv); k == "type" {
			if t, ok := d.scalar(kv.Value); ok && t != au.Type {
				*au = Auth{}
			}
		}
	}
	for _, kv := range m {
		k, kn := d.key(kv)
		path := "auth." + k
		field := d.appField(path)
		v := kv.Value
		d.record(kn, path)
		switch k {
		case "type":
			au.Type, _ = d.str(v, field)
		case "authorizeUrl":
			au.AuthorizeURL, _ = d.str(v, field)
		case "tokenUrl":
			au.TokenURL, _ = d.str(v, field)
		case "revokeUrl":
			au.RevokeURL, _ = d.str(v, field)
		case "scopes":
			au.Scopes = d.strList(v, path)
		case "scopeSeparator":
			au.ScopeSeparator, _ = d.str(v, field)
		case "pkce":
			if b, ok := d.boolean(v, field); ok {
				au.PKCE = &b
			}
		case "authParams":
			au.AuthParams = d.strMap(v, path)
		case "tokenAuthMethod":
			au.TokenAuthMethod, _ = d.str(v, field)
		case "clientId":
			au.ClientID, _ = d.str(v, field)
		case "clientSecret":
			au.ClientSecret, _ = d.str(v, field)
		case "fields":
			au.Fields = d.decodeFields(v, path)
		case "test":
			au.Test = d.decodeTest(v, path)
		default:
			d.fail(kn, field, "unknown key")
		}
	}
}

func (d *decoder) decodeFields(n ast.Node, path string) []Field {
	seq, ok := d.sequence(n, d.appField(path))
	if !ok {
		return nil
	}
	out := make([]Field, 0, len(seq))
	for i, item := range seq {
		fp := fmt.Sprintf("%s[%d]", path, i)
		d.record(item, fp)
		m, ok := d.mapping(item, d.appField(fp))
		if !ok {
			continue
		}
		var f Field
		for _, kv := range m {
			k, kn := d.key(kv)
			kp := fp + "." + k
			field := d.appField(kp)
			v := kv.Value
			d.record(kn, kp)
			switch k {
			case "key":
				f.Key, _ = d.str(v, field)
			case "label":
				f.Label, _ = d.str(v, field)
			case "secret":
				f.Secret, _ = d.boolean(v, field)
			case "pattern":
				f.Pattern, _ = d.str(v, field)
			case "help":
				f.Help, _ = d.str(v, field)
			case "placeholder":
				f.Placeholder, _ = d.str(v, field)
			case "optional":
				f.Optional, _ = d.boolean(v, field)
			case "default":
				f.Default, _ = d.str(v, field)
			default:
				d.fail(kn, field, "unknown key")
			}
		}
		out = append(out, f)
	}
	return out
}

func (d *decoder) decodeTest(n ast.Node, path string) *TestRequest {
	m, ok := d.mapping(n, d.appField(path))
	if !ok {
		return nil
	}
	t := &TestRequest{}
	for _, kv := range m {
		k, kn := d.key(kv)
		kp := path + "." + k
		field := d.appField(kp)
		v := kv.Value
		d.record(kn, kp)
		switch k {
		case "method":
			t.Method, _ = d.str(v, field)
		case "url":
			t.URL, _ = d.str(v, field)
		case "headers":
			t.Headers = d.strMap(v, kp)
		case "expectStatus":
			t.ExpectStatus = d.intList(v, kp)
		default:
			d.fail(kn, field, "unknown key")
		}
	}
	return t
}

// unwrap strips anchors and tags; aliases are refused because an app
// definition has no use for them and they invite expansion bombs.
func (d *decoder) unwrap(n ast.Node, field string) (ast.Node, bool) {
	for i := 0; i < 8 && n != nil; i++ {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.MappingKeyNode:
			n = v.Value
		case *ast.AliasNode:
			d.fail(n, field, "YAML aliases are not supported")
			return nil, false
		default:
			return n, true
		}
	}
	return n, n != nil
}

func isNull(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, ok := n.(*ast.NullNode)
	return ok
}

func (d *decoder) mapping(n ast.Node, field string) ([]*ast.MappingValueNode, bool) {
	n, ok := d.unwrap(n, field)
	if !ok {
		return nil, false
	}
	switch v := n.(type) {
	case *ast.MappingNode:
		return v.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{v}, true
	}
	d.fail(n, field, "must be a mapping (key: value lines)")
	return nil, false
}

func (d *decoder) sequence(n ast.Node, field string) ([]ast.Node, bool) {
	if isNull(n) {
		return nil, true
	}
	n, ok := d.unwrap(n, field)
	if !ok {
		return nil, false
	}
	if s, ok := n.(*ast.SequenceNode); ok {
		return s.Values, true
	}
	if isNull(n) {
		return nil, true
	}
	d.fail(n, field, "must be a list")
	return nil, false
}

// key returns a mapping key as text, refusing merge keys (<<) which would
// pull values in from elsewhere without a line of their own.
func (d *decoder) key(kv *ast.MappingValueNode) (string, ast.Node) {
	if kv.Key == nil {
		return "", kv
	}
	if kv.Key.IsMergeKey() {
		d.fail(kv.Key, "", "merge keys (<<) are not supported")
		return "<<", kv.Key
	}
	kn, ok := d.unwrap(kv.Key, "")
	if !ok {
		return "", kv.Key
	}
	s, _ := d.scalar(kn)
	return s, kn
}

// scalar renders any scalar node as text (numbers and booleans as written).
func (d *decoder) scalar(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value, true
		}
		return "", true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		if tk := n.GetToken(); tk != nil {
			return tk.Value, true
		}
	}
	return "", false
}

func (d *decoder) str(n ast.Node, field string) (string, bool) {
	if isNull(n) {
		return "", true
	}
	n, ok := d.unwrap(n, field)
	if !ok {
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	if s, ok := d.scalar(n); ok {
		return s, true
	}
	d.fail(n, field, "must be a string")
	return "", false
}

func (d *decoder) boolean(n ast.Node, field string) (bool, bool) {
	n, ok := d.unwrap(n, field)
	if !ok {
		return false, false
	}
	if b, ok := n.(*ast.BoolNode); ok {
		return b.Value, true
	}
	d.fail(n, field, "must be true or false")
	return false, false
}

func (d *decoder) integer(n ast.Node, field string) (int, bool) {
	n, ok := d.unwrap(n, field)
	if !ok {
		return 0, false
	}
	if in, ok := n.(*ast.IntegerNode); ok {
		switch v := in.Value.(type) {
		case int64:
			if v >= math.MinInt32 && v <= math.MaxInt32 {
				return int(v), true
			}
		case uint64:
			if v <= math.MaxInt32 {
				return int(v), true
			}
		}
	}
	d.fail(n, field, "must be an integer")
	return 0, false
}

func (d *decoder) strList(n ast.Node, path string) []string {
	seq, ok := d.sequence(n, d.appField(path))
	if !ok {
		return nil
	}
	out := make([]string, 0, len(seq))
	for i, item := range seq {
		ip := fmt.Sprintf("%s[%d]", path, i)
		d.record(item, ip)
		if s, ok := d.str(item, d.appField(ip)); ok {
			out = append(out, s)
		}
	}
	return out
}

func (d *decoder) intList(n ast.Node, path string) []int {
	seq, ok := d.sequence(n, d.appField(path))
	if !ok {
		return nil
	}
	out := make([]int, 0, len(seq))
	for i, item := range seq {
		ip := fmt.Sprintf("%s[%d]", path, i)
		d.record(item, ip)
		if v, ok := d.integer(item, d.appField(ip)); ok {
			out = append(out, v)
		}
	}
	return out
}

func (d *decoder) strMap(n ast.Node, path string) map[string]string {
	if isNull(n) {
		return nil
	}
	m, ok := d.mapping(n, d.appField(path))
	if !ok {
		return nil
	}
	out := make(map[string]string, len(m))
	for _, kv := range m {
		k, kn := d.key(kv)
		kp := path + "." + k
		d.record(kn, kp)
		if v, ok := d.str(kv.Value, d.appField(kp)); ok {
			out[k] = v
		}
	}
	return out
}
