package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/hitchdev/hitch/internal/client"
)

// pollWait is one long poll; under the API's 60 s cap and under the idle
// timeouts of common proxies.
const pollWait = 25 * time.Second

func newConnectCmd() *cobra.Command {
	var (
		cf                           clientFlags
		intent, appKey, connID, name string
		noBrowser, asJSON            bool
		timeout                      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "connect (--intent TEXT | --appKey KEY | --connectionId ID)",
		Short: "Connect an app (or reconnect a connection) through a connect link",
		Long: `Start a connect session, print its connect link, open it in a browser when one is
available, wait for the user to finish, and print the resulting connection.

Ctrl-C cancels the session. Exit codes: 0 connected, 1 error, 2 usage or
configuration, 3 the connection failed, 4 cancelled, timed out or expired.

Reads HITCH_URL (default ` + defaultURL + `) and HITCH_TOKEN, or mints a token from
HITCH_WORKSPACE_SECRET (and HITCH_WORKSPACE_KEY) for --tenant KEY.`,
		Example: `  hitch connect --intent "CRM" --tenant acme
  hitch connect --appKey hubspot --name "Sales HubSpot"
  hitch connect --connectionId con_123 --no-browser`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			n := 0
			for _, v := range []string{intent, appKey, connID} {
				if strings.TrimSpace(v) != "" {
					n++
				}
			}
			if n != 1 {
				return usageError(errors.New("say what to connect with exactly one of --intent TEXT, --appKey KEY or --connectionId ID"))
			}
			if timeout <= 0 {
				return usageError(errors.New("--timeout must be more than 0"))
			}
			c, err := cf.newClient(os.Getenv)
			if err != nil {
				return err
			}
			r := connectRun{
				client: c, out: cmd.OutOrStdout(), errw: cmd.ErrOrStderr(), timeout: timeout, json: asJSON,
				browser: !noBrowser, open: openBrowser,
			}
			return r.run(cmd.Context(), client.ConnectRequest{
				Intent: intent, AppKey: appKey, ConnectionID: connID, Name: name, TenantKey: cf.tenant,
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&intent, "intent", "", `what to connect, in words ("CRM", "email"); the user picks the app`)
	f.StringVar(&appKey, "appKey", "", "the catalog key of the app to connect")
	f.StringVar(&connID, "connectionId", "", "reconnect this connection")
	f.StringVar(&name, "name", "", "display name of the new connection")
	f.BoolVar(&noBrowser, "no-browser", false, "do not open a browser, only print the link")
	f.BoolVar(&asJSON, "json", false, "print the resulting connection as JSON")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "give up (and cancel the session) after this long")
	cf.register(cmd, false)
	usageErrors(cmd)
	return cmd
}

// connectRun is one `hitch connect`.
type connectRun struct {
	client  *client.Client
	out     io.Writer // the link and the result
	errw    io.Writer // progress
	timeout time.Duration
	json    bool
	browser bool
	open    func(string) bool
}

func (r *connectRun) run(ctx context.Context, req client.ConnectRequest) error {
	s, err := r.client.StartConnect(ctx, req)
	if err != nil {
		return apiError(err)
	}
	fmt.Fprintf(r.out, "Open this link in a browser to connect (single use, expires %s):\n%s\n",
		s.ExpiresAt.Local().Format("15:04 MST"), s.URL)
	if r.browser && r.open(s.URL) {
		fmt.Fprintln(r.errw, "Opened it in your browser.")
	}
	final, err := r.wait(ctx, s.ID)
	if err != nil {
		return err
	}
	switch final.Status {
	case client.StatusCompleted:
		if final.Connection == nil {
			return &exitError{code: exitCodeError, err: errors.New("the session completed but Hitch returned no connection")}
		}
		if r.json {
			return writeJSON(r.out, final.Connection)
		}
		fmt.Fprintf(r.out, "Connected %s (%s).\n", final.Connection.Name, final.Connection.AppKey)
		return printConnection(r.out, final.Connection)
	case client.StatusFailed:
		return &exitError{code: exitCodeFailed, err: fmt.Errorf("the connection failed: %s", sessionReason(final))}
	default: // cancelled, expired
		return &exitError{code: exitCodeCancelled, err: fmt.Errorf("the connect session %s: %s", final.Status, sessionReason(final))}
	}
}

// wait long-polls the session until it leaves pending. Ctrl-C and the
// timeout cancel the session at the server, so the link stops working.
func (r *connectRun) wait(ctx context.Context, id string) (*client.Session, error) {
	start := time.Now()
	waitCtx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	prog := newProgress(r.errw, isTerminal(r.errw), start, id)
	defer prog.stop()
	lost := false
	for {
		wait := min(pollWait, time.Until(start.Add(r.timeout)))
		s, err := r.client.Session(waitCtx, id, max(wait, time.Second))
		if err == nil {
			lost = false
			if s.Done() {
				return s, nil
			}
			prog.tick()
			continue
		}
		switch {
		case ctx.Err() != nil:
			prog.stop()
			r.cancel(id)
			return nil, &exitError{code: exitCodeCancelled, err: errors.New("interrupted; the connect session is cancelled")}
		case waitCtx.Err() != nil:
			prog.stop()
			r.cancel(id)
			return nil, &exitError{code: exitCodeCancelled, err: fmt.Errorf("gave up after %s; the connect session is cancelled", r.timeout)}
		case transient(err):
			// A restarting server should not end a half-finished connect.
			if !lost {
				prog.note(fmt.Sprintf("Lost contact with Hitch (%v); retrying...", err))
				lost = true
			}
			select {
			case <-waitCtx.Done():
			case <-time.After(2 * time.Second):
			}
		default:
			return nil, apiError(err)
		}
	}
}

// cancel ends the session at the server; the caller's context is already
// done, so it gets a short one of its own.
func (r *connectRun) cancel(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.client.CancelSession(ctx, id); err != nil {
		fmt.Fprintf(r.errw, "hitch: could not cancel the session: %v\n", err)
	}
}

func transient(err error) bool {
	var ue *client.UnreachableError
	var ae *client.Error
	if errors.As(err, &ue) || errors.Is(err, client.ErrTimeout) {
		return true
	}
	return errors.As(err, &ae) && (ae.Status == http.StatusBadGateway || ae.Status == http.StatusServiceUnavailable || ae.Status == http.StatusGatewayTimeout)
}

func sessionReason(s *client.Session) string {
	if s.Error != nil && s.Error.Message != "" {
		if s.Error.Code != "" {
			return s.Error.Message + " (" + s.Error.Code + ")"
		}
		return s.Error.Message
	}
	return s.Status
}

// progress shows that the CLI is waiting: a spinner on a terminal, a plain
// line now and then otherwise (logs and CI keep them readable).
type progress struct {
	w     io.Writer
	tty   bool
	start time.Time

	mu      sync.Mutex
	done    chan struct{}
	stopped bool
}

var spinnerFrames = []string{"|", "/", "-", `\`}

func newProgress(w io.Writer, tty bool, start time.Time, session string) *progress {
	p := &progress{w: w, tty: tty, start: start, done: make(chan struct{})}
	if !tty {
		fmt.Fprintf(w, "Waiting for the connection to complete (session %s; Ctrl-C cancels it)...\n", session)
		return p
	}
	go func() {
		t := time.NewTicker(150 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.mu.Lock()
				if !p.stopped {
					fmt.Fprintf(w, "\r%s Waiting for the connection to complete... %s (Ctrl-C to cancel) ",
						spinnerFrames[i%len(spinnerFrames)], time.Since(start).Round(time.Second))
				}
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// tick is called after each long poll that is still pending.
func (p *progress) tick() {
	if !p.tty {
		fmt.Fprintf(p.w, "Still waiting (%s)...\n", time.Since(p.start).Round(time.Second))
	}
}

// note prints a line between spinner frames.
func (p *progress) note(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintln(p.w, msg)
}

func (p *progress) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	close(p.done)
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// openBrowser opens u in the desktop's browser when there is a desktop. It
// never fails the command: the link is printed either way.
func openBrowser(u string) bool {
	if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") {
		return false
	}
	var name string
	var args []string
	switch goruntime.GOOS {
	case "darwin":
		name = "open"
	case "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler"}
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return false // a server or an SSH session: nothing to open it in
		}
		name = "xdg-open"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return false
	}
	cmd := exec.Command(path, append(args, u)...)
	if err := cmd.Start(); err != nil {
		return false
	}
	go func() { _ = cmd.Wait() }()
	return true
}
