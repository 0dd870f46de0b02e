package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Limits of one outbound request.
const (
	// DefaultTimeout bounds a whole attempt: connect, send, and read the (capped) answer.
	DefaultTimeout = 10 * time.Second
	// UserAgent names Hitch to receivers.
	UserAgent = "Hitch-Webhooks/1"
	// maxResponseRead is how much of an answer is read; the rest is dropped with the connection.
	maxResponseRead = 64 << 10
	// maxExcerpt is how much of the answer the delivery log keeps.
	maxExcerpt = 1 << 10
	// maxRetryAfter caps a receiver's Retry-After, so a bad header cannot park a delivery for ever.
	maxRetryAfter = 24 * time.Hour
)

// Message is one signed POST to make.
type Message struct {
	ID     string // webhook-id: the event id, the same on every attempt
	URL    string
	Body   []byte // sent and signed byte for byte
	Signer *Signer
	At     time.Time // the attempt time, sent as webhook-timestamp
}

// Result is what one attempt came to.
type Result struct {
	StatusCode int           // 0 when no HTTP answer arrived
	Latency    time.Duration // from sending to the end of the (capped) answer or the failure
	Excerpt    string        // the start of the answer body, valid UTF-8, at most 1 KiB
	Err        string        // why there was no usable answer; never contains the URL
	RetryAfter time.Duration // the receiver's Retry-After on 429 or 503, capped at 24 h
}

// OK reports a 2xx answer.
func (r Result) OK() bool { return r.StatusCode >= 200 && r.StatusCode <= 299 }

// Gone reports a 410 answer: the receiver wants no more webhooks at this endpoint.
func (r Result) Gone() bool { return r.StatusCode == http.StatusGone }

// Sender makes signed POSTs with a timeout, a cap on the answer it reads, and no redirects followed.
type Sender struct {
	client  *http.Client
	timeout time.Duration
	now     func() time.Time
}

// NewSender returns a sender whose attempts end after timeout (0 means DefaultTimeout). now reads the
// clock for Retry-After dates (nil: time.Now).
func NewSender(timeout time.Duration, now func() time.Time) *Sender {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if now == nil {
		now = time.Now
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Checked when connecting, after DNS: a name that resolves (or is rebound) to a metadata address is
	// refused as surely as the literal address.
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: refuseForbidden}).DialContext
	tr.MaxIdleConnsPerHost = 64
	tr.ResponseHeaderTimeout = timeout
	return &Sender{
		client: &http.Client{
			Transport: tr,
			Timeout:   timeout,
			// A redirect is a failed attempt (Standard Webhooks: update the URL instead); following it
			// would also let a receiver steer signed requests elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		timeout: timeout,
		now:     now,
	}
}

// Timeout is the per-attempt limit.
func (s *Sender) Timeout() time.Duration { return s.timeout }

// Send makes one attempt. It never returns an error: every failure is described in the Result.
func (s *Sender) Send(ctx context.Context, m Message) Result {
	sig, err := m.Signer.Sign(m.ID, m.At, m.Body)
	if err != nil {
		return Result{Err: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		return Result{Err: "the endpoint URL cannot be used"}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", UserAgent)
	h.Set("webhook-id", m.ID)
	h.Set("webhook-timestamp", strconv.FormatInt(m.At.Unix(), 10))
	h.Set("webhook-signature", sig)

	start := time.Now()
	res, err := s.client.Do(req)
	if err != nil {
		return Result{Latency: time.Since(start), Err: describe(err, s.timeout)}
	}
	defer res.Body.Close()
	body, readErr := io.ReadAll(io.LimitReader(res.Body, maxResponseRead))
	r := Result{StatusCode: res.StatusCode, Latency: time.Since(start), Excerpt: excerpt(body)}
	if readErr != nil && r.OK() {
		// The receiver said yes; a broken body after that does not undo it.
		readErr = nil
	}
	if readErr != nil {
		r.Err = "reading the answer: " + describe(readErr, s.timeout)
	}
	if res.StatusCode >= 300 && res.StatusCode <= 399 {
		r.Err = "redirect not followed; update the endpoint URL"
	}
	if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
		r.RetryAfter = retryAfter(res.Header.Get("Retry-After"), s.now())
	}
	return r
}

// describe turns a transport error into a short sentence without the request URL (which may carry a
// receiver's token in its query).
func describe(err error, timeout time.Duration) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return "timed out after " + timeout.String()
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection was closed before a complete answer"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}

// excerpt keeps the start of an answer as valid UTF-8 without NULs (PostgreSQL text refuses them).
func excerpt(body []byte) string {
	if len(body) > maxExcerpt {
		body = body[:maxExcerpt]
		for len(body) > 0 && !utf8.Valid(body) && len(body) > maxExcerpt-utf8.UTFMax {
			body = body[:len(body)-1]
		}
	}
	s := strings.ToValidUTF8(string(body), "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "")
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date. Missing or malformed means 0.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}

// forbiddenAddr reports addresses a webhook may never reach: link-local (cloud metadata services such as
// 169.254.169.254 and fd00:ec2::254's link-local peers), multicast and unspecified. Loopback and private
// networks stay allowed: a self-hosted Hitch commonly notifies a backend on the same host or network.
func forbiddenAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() ||
		ip.IsMulticast() || ip.IsUnspecified() || ip == netip.MustParseAddr("fd00:ec2::254")
}

// errForbiddenAddr is the dial error for a forbidden address; it ends up in the attempt log.
var errForbiddenAddr = errors.New("webhook: endpoint resolves to a link-local, multicast or unspecified address")

// refuseForbidden is a net.Dialer Control hook: it sees the address actually dialled.
func refuseForbidden(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: dial %q: %w", address, err)
	}
	if forbiddenAddr(ap.Addr()) {
		return errForbiddenAddr
	}
	return nil
}
