package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/hitchdev/hitch/internal/client"
	"github.com/hitchdev/hitch/internal/client/clienttest"
	"github.com/hitchdev/hitch/internal/mcpserver/mcptest"
)

// cliEnv runs the built hitch binary against a running server.
type cliEnv struct {
	t   *testing.T
	bin string
	srv *clienttest.Server

	mu      sync.Mutex
	outputs []string // everything the binary printed, to check no token leaks
}

// TestCLI builds the binary once and runs every client verb against a real
// Hitch over HTTP.
func TestCLI(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "hitch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	e := &cliEnv{t: t, bin: bin, srv: clienttest.Start(t)}
	acme, other := e.srv.Token("acme"), e.srv.Token("other")

	t.Run("connect", func(t *testing.T) { e.testConnect(t, acme) })
	t.Run("connection", func(t *testing.T) { e.testConnection(t, acme, other) })
	t.Run("bad input", func(t *testing.T) { e.testBadInput(t, acme) })
	t.Run("mcp stdio", func(t *testing.T) {
		srv := clienttest.Start(t) // its own tenants' data
		mcptest.Run(t, srv, func(t *testing.T, token string) *mcp.ClientSession {
			cmd := exec.Command(bin, "mcp")
			cmd.Env = baseEnv(t, "HITCH_URL="+srv.URL, "HITCH_TOKEN="+token)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			s, err := mcp.NewClient(&mcp.Implementation{Name: "hitch-test", Version: "1"}, nil).
				Connect(t.Context(), &mcp.CommandTransport{Command: cmd}, nil)
			if err != nil {
				t.Fatalf("start hitch mcp: %v\n%s", err, stderr.String())
			}
			t.Cleanup(func() {
				_ = s.Close()
				if strings.Contains(stderr.String(), token) {
					t.Error("hitch mcp printed its token")
				}
			})
			return s
		})
	})
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, out := range e.outputs {
		for _, tok := range []string{acme, other} {
			if strings.Contains(out, tok) {
				t.Fatalf("a token was printed:\n%s", out)
			}
		}
	}
}

// baseEnv is a clean environment: no HITCH_* from the developer's shell and
// no display, so no browser opens.
func baseEnv(t *testing.T, kv ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, kv...)
}

func (e *cliEnv) record(s ...string) {
	e.mu.Lock()
	e.outputs = append(e.outputs, s...)
	e.mu.Unlock()
}

// run runs the binary to the end and returns its output and exit code.
func (e *cliEnv) run(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Env = baseEnv(t, env...)
	var o, eb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &eb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	e.record(o.String(), eb.String())
	return o.String(), eb.String(), cmd.ProcessState.ExitCode()
}

// running is a `hitch connect` in progress.
type running struct {
	cmd          *exec.Cmd
	link         string
	session      string
	stdout       *syncBuffer
	stderr       *syncBuffer
	waitDone     chan struct{}
	stdoutClosed chan struct{}
}

// startConnect starts `hitch connect` and waits for its link and session id.
func (e *cliEnv) startConnect(t *testing.T, env []string, args ...string) *running {
	t.Helper()
	cmd := exec.Command(e.bin, append([]string{"connect", "--no-browser"}, args...)...)
	cmd.Env = baseEnv(t, env...)
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &running{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, stdoutClosed: make(chan struct{})}
	links, sessions := make(chan string, 1), make(chan string, 1)
	linkRe, sessionRe := regexp.MustCompile(`^https?://\S+/c/\S+$`), regexp.MustCompile(`session (\S+);`)
	scan := func(rd io.Reader, buf *syncBuffer, fn func(string), done chan struct{}) {
		sc := bufio.NewScanner(rd)
		for sc.Scan() {
			buf.WriteLine(sc.Text())
			fn(sc.Text())
		}
		if done != nil {
			close(done)
		}
	}
	go scan(outPipe, r.stdout, func(l string) {
		if linkRe.MatchString(l) {
			links <- l
		}
	}, r.stdoutClosed)
	errDone := make(chan struct{})
	go scan(errPipe, r.stderr, func(l string) {
		if m := sessionRe.FindStringSubmatch(l); m != nil {
			sessions <- m[1]
		}
	}, errDone)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-errDone
		e.record(r.stdout.String(), r.stderr.String())
	})
	for r.link == "" || r.session == "" {
		select {
		case r.link = <-links:
		case r.session = <-sessions:
		case <-time.After(10 * time.Second):
			t.Fatalf("no link and session from hitch connect:\n%s\n%s", r.stdout, r.stderr)
		}
	}
	return r
}

// wait waits for the command to exit and returns its exit code.
func (r *running) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		<-r.stdoutClosed // Wait closes the pipes; read them to the end first
		done <- r.cmd.Wait()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("hitch connect did not exit:\n%s\n%s", r.stdout, r.stderr)
	}
	return r.cmd.ProcessState.ExitCode()
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) WriteLine(l string) {
	s.mu.Lock()
	s.b.WriteString(l + "\n")
	s.mu.Unlock()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var idLine = regexp.MustCompile(`(?m)^ID\s+(con_\S+)$`)

func (e *cliEnv) testConnect(t *testing.T, token string) {
	env := []string{"HITCH_URL=" + e.srv.URL, "HITCH_TOKEN=" + token}
	t.Run("completes through the sandbox provider", func(t *testing.T) {
		r := e.startConnect(t, env, "--appKey", "sandbox-oauth", "--name", "CRM sandbox")
		if err := clienttest.NewBrowser().ConnectOAuth(r.link, "approve"); err != nil {
			t.Fatal(err)
		}
		if code := r.wait(t); code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, r.stdout, r.stderr)
		}
		out := r.stdout.String()
		m := idLine.FindStringSubmatch(out)
		if m == nil || !strings.Contains(out, "Connected CRM sandbox (sandbox-oauth).") || !regexp.MustCompile(`(?m)^Status\s+connected$`).MatchString(out) {
			t.Fatalf("output:\n%s", out)
		}
		c, err := e.client(token).Connection(t.Context(), m[1])
		if err != nil || c.AppKey != "sandbox-oauth" || c.TenantKey != "acme" {
			t.Fatalf("the printed connection %s: %+v %v", m[1], c, err)
		}
	})
	t.Run("json output with a minted token", func(t *testing.T) {
		r := e.startConnect(t, []string{"HITCH_URL=" + e.srv.URL, "HITCH_WORKSPACE_SECRET=" + clienttest.Secret,
			"HITCH_WORKSPACE_KEY=" + clienttest.WorkspaceKey}, "--tenant", "acme", "--intent", "sandbox api key", "--json")
		if err := clienttest.NewBrowser().ConnectAPIKey(r.link, "sandbox-good"); err != nil {
			t.Fatal(err)
		}
		if code := r.wait(t); code != 0 {
			t.Fatalf("exit %d\n%s", code, r.stderr)
		}
		var c client.Connection
		out := r.stdout.String()
		if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &c); err != nil || c.AppKey != "sandbox-apikey" || c.TenantKey != "acme" {
			t.Fatalf("json: %v\n%s", err, out)
		}
	})
	t.Run("denied", func(t *testing.T) {
		r := e.startConnect(t, env, "--appKey", "sandbox-oauth")
		if err := clienttest.NewBrowser().ConnectOAuth(r.link, "deny"); err != nil {
			t.Fatal(err)
		}
		if code := r.wait(t); code != exitCodeFailed || !strings.Contains(r.stderr.String(), "access_denied") {
			t.Fatalf("exit %d\n%s", code, r.stderr)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		r := e.startConnect(t, env, "--intent", "CRM")
		if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if code := r.wait(t); code != exitCodeCancelled || !strings.Contains(r.stderr.String(), "cancelled") {
			t.Fatalf("exit %d\n%s", code, r.stderr)
		}
		s, err := e.client(token).Session(t.Context(), r.session, 0)
		if err != nil || s.Status != client.StatusCancelled {
			t.Fatalf("session after Ctrl-C: %+v %v", s, err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		r := e.startConnect(t, env, "--intent", "CRM", "--timeout", "1500ms")
		if code := r.wait(t); code != exitCodeCancelled || !strings.Contains(r.stderr.String(), "gave up after 1.5s") {
			t.Fatalf("exit %d\n%s", code, r.stderr)
		}
		if s, err := e.client(token).Session(t.Context(), r.session, 0); err != nil || s.Status != client.StatusCancelled {
			t.Fatalf("session after the timeout: %+v %v", s, err)
		}
	})
}

func (e *cliEnv) client(token string) *client.Client {
	c, err := client.New(client.Options{BaseURL: e.srv.URL, Token: client.StaticToken(token)})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *cliEnv) testConnection(t *testing.T, acme, other string) {
	env := []string{"HITCH_URL=" + e.srv.URL, "HITCH_TOKEN=" + acme}
	minted := []string{"HITCH_URL=" + e.srv.URL, "HITCH_WORKSPACE_SECRET=" + clienttest.Secret, "HITCH_WORKSPACE_KEY=" + clienttest.WorkspaceKey}
	// The connect tests left acme with a sandbox-oauth and a sandbox-apikey connection.
	list := func(t *testing.T, env []string, args ...string) []client.Connection {
		t.Helper()
		out, errOut, code := e.run(t, env, append([]string{"connection", "list", "--json"}, args...)...)
		var items []client.Connection
		if code != 0 || json.Unmarshal([]byte(out), &items) != nil {
			t.Fatalf("list %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return items
	}
	all := list(t, env)
	if len(all) != 2 || all[0].AppKey != "sandbox-apikey" || all[1].AppKey != "sandbox-oauth" {
		t.Fatalf("list: %+v", all)
	}
	oauthID, keyID := all[1].ID, all[0].ID

	t.Run("list filters", func(t *testing.T) {
		cases := []struct {
			env  []string
			args []string
			want []string
		}{
			{env, []string{"--app", "sandbox-oauth"}, []string{oauthID}},
			{env, []string{"--disconnected"}, nil},
			{env, []string{"--disconnected=false"}, []string{keyID, oauthID}},
			{env, []string{"--limit", "1", "--all-pages"}, []string{keyID, oauthID}},
			{env, []string{"--limit", "1"}, []string{keyID}},
			{minted, []string{"--tenant", "acme"}, []string{keyID, oauthID}},
			{minted, []string{"--tenant", "other"}, nil},
			{minted, []string{"--admin", "--tenant", "acme", "--app", "sandbox-apikey"}, []string{keyID}},
			{[]string{"HITCH_URL=" + e.srv.URL, "HITCH_TOKEN=" + other}, nil, nil},
		}
		for _, c := range cases {
			var got []string
			for _, item := range list(t, c.env, c.args...) {
				got = append(got, item.ID)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("list %v: %v, want %v", c.args, got, c.want)
			}
		}
	})
	t.Run("list table", func(t *testing.T) {
		out, errOut, code := e.run(t, env, "connection", "list", "--limit", "1")
		rows := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(rows) != 1 || len(strings.Split(rows[0], "\t")) != 6 || !strings.HasPrefix(rows[0], keyID+"\t") {
			t.Fatalf("exit %d rows %q", code, rows)
		}
		if !strings.Contains(errOut, "--cursor") {
			t.Fatalf("no hint about the next page: %q", errOut)
		}
		var b bytes.Buffer
		if err := printConnectionTable(&b, all, true); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(b.String()), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || strings.Index(lines[1], "sandbox-") != strings.Index(lines[2], "sandbox-") {
			t.Fatalf("aligned table:\n%s", b.String())
		}
	})
	t.Run("get", func(t *testing.T) {
		out, _, code := e.run(t, env, "connection", "get", oauthID)
		if code != 0 || !strings.Contains(out, oauthID) || !regexp.MustCompile(`(?m)^App\s+sandbox-oauth$`).MatchString(out) {
			t.Fatalf("exit %d\n%s", code, out)
		}
		out, _, code = e.run(t, env, "connection", "get", "--json", oauthID)
		var c client.Connection
		if code != 0 || json.Unmarshal([]byte(out), &c) != nil || c.ID != oauthID || c.NextRefreshAt == nil {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("archive", func(t *testing.T) {
		// Another tenant cannot archive it.
		_, errOut, code := e.run(t, []string{"HITCH_URL=" + e.srv.URL, "HITCH_TOKEN=" + other}, "connection", "archive", keyID)
		if code != exitCodeError || !strings.Contains(errOut, "connection_not_found") {
			t.Fatalf("another tenant: exit %d %s", code, errOut)
		}
		for range 2 { // idempotent
			out, errOut, code := e.run(t, env, "connection", "archive", keyID)
			if code != 0 || !strings.Contains(out, "Archived "+keyID) {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
		}
		out, _, _ := e.run(t, env, "connection", "get", keyID)
		if !regexp.MustCompile(`(?m)^Status\s+archived$`).MatchString(out) {
			t.Fatalf("after archive:\n%s", out)
		}
		if items := list(t, env); len(items) != 1 || items[0].ID != oauthID {
			t.Fatalf("archived connection still listed: %+v", items)
		}
		if items := list(t, env, "--include-archived"); len(items) != 2 {
			t.Fatalf("--include-archived: %+v", items)
		}
	})
}

func (e *cliEnv) testBadInput(t *testing.T, acme string) {
	down := httptest.NewServer(nil)
	downURL := down.URL
	down.Close()
	env := []string{"HITCH_URL=" + e.srv.URL, "HITCH_TOKEN=" + acme}
	cases := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"unknown id", env, []string{"connection", "get", "con_missing"}, exitCodeError, `No connection with id "con_missing" exists. (connection_not_found, HTTP 404)`},
		{"unknown id archive", env, []string{"connection", "archive", "con_missing"}, exitCodeError, "connection_not_found"},
		{"unknown app", env, []string{"connect", "--appKey", "no-such-app"}, exitCodeError, "app_not_found"},
		{"unknown connection to reconnect", env, []string{"connect", "--connectionId", "con_missing"}, exitCodeError, "connection_not_found"},
		{"no token", []string{"HITCH_URL=" + e.srv.URL}, []string{"connection", "list"}, exitCodeUsage, "no token: set HITCH_TOKEN"},
		{"secret without tenant", []string{"HITCH_URL=" + e.srv.URL, "HITCH_WORKSPACE_SECRET=" + clienttest.Secret}, []string{"connection", "list"}, exitCodeUsage, "--tenant"},
		{"short secret", []string{"HITCH_WORKSPACE_SECRET=short"}, []string{"connection", "list", "--tenant", "a"}, exitCodeUsage, "at least 32"},
		{"wrong workspace", []string{"HITCH_URL=" + e.srv.URL, "HITCH_WORKSPACE_SECRET=" + clienttest.Secret}, []string{"connection", "list", "--tenant", "a"}, exitCodeError, "HTTP 401"},
		{"bad token", []string{"HITCH_URL=" + e.srv.URL, "HITCH_TOKEN=garbage"}, []string{"connection", "list"}, exitCodeError, "not a well-formed JWT"},
		{"server down", []string{"HITCH_URL=" + downURL, "HITCH_TOKEN=" + acme}, []string{"connection", "list"}, exitCodeError, "cannot reach Hitch at " + downURL},
		{"server down connect", []string{"HITCH_TOKEN=" + acme}, []string{"connect", "--intent", "CRM", "--url", downURL}, exitCodeError, "cannot reach Hitch at " + downURL},
		{"bad url", []string{"HITCH_URL=localhost:8080", "HITCH_TOKEN=" + acme}, []string{"connection", "list"}, exitCodeUsage, "not an absolute http(s) URL"},
		{"two targets", env, []string{"connect", "--intent", "CRM", "--appKey", "x"}, exitCodeUsage, "exactly one of"},
		{"no target", env, []string{"connect"}, exitCodeUsage, "exactly one of"},
		{"missing id", env, []string{"connection", "get"}, exitCodeUsage, "one connection id"},
		{"unknown flag", env, []string{"connection", "list", "--nope"}, exitCodeUsage, "unknown flag"},
		{"bad limit", env, []string{"connection", "list", "--limit", "501"}, exitCodeUsage, "--limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := e.run(t, c.env, c.args...)
			if code != c.code || !strings.Contains(errOut, c.want) || !strings.HasPrefix(errOut, "hitch: ") {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, c.code, out, errOut)
			}
		})
	}
}
