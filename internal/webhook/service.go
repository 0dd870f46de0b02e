package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/hitchdev/hitch/internal/events"
	"github.com/hitchdev/hitch/internal/fault"
	"github.com/hitchdev/hitch/internal/secrets"
	"github.com/hitchdev/hitch/internal/store"
)

// EnvEndpointID is the id of the endpoint configured by HITCH_WEBHOOK_URL and HITCH_WEBHOOK_SECRET.
const EnvEndpointID = "whe_env"

// DefaultRotationGrace is how long a replaced secret keeps signing after a rotation, so receivers can
// switch over without a gap (Standard Webhooks: zero-downtime rotation).
const DefaultRotationGrace = 24 * time.Hour

// MaxRotationGrace bounds the grace a caller may ask for.
const MaxRotationGrace = 7 * 24 * time.Hour

const (
	maxURLLen         = 2048
	maxDescriptionLen = 500
)

// Options configure a Service and a Dispatcher; zero values pick the defaults.
type Options struct {
	Store *store.Store
	Keys  *secrets.KeyRing // seals and opens endpoint secrets
	Now   func() time.Time // nil: time.Now; schedules, leases and webhook-timestamp read it
	Log   *slog.Logger     // nil: slog.Default()

	Timeout      time.Duration   // per attempt; 0: DefaultTimeout
	Schedule     []time.Duration // delay before each scheduled attempt; nil: DefaultSchedule()
	Lease        time.Duration   // how long a claim holds a delivery; 0: 12 × Timeout, at least 30 s
	BatchSize    int             // deliveries claimed at once at most; 0: 500
	Concurrency  int             // requests in flight per dispatcher; 0: 64
	PollInterval time.Duration   // how often an idle dispatcher looks for work; 0: 500 ms
}

func (o Options) now() func() time.Time {
	if o.Now == nil {
		return time.Now
	}
	return o.Now
}

func (o Options) log() *slog.Logger {
	if o.Log == nil {
		return slog.Default()
	}
	return o.Log
}

// Service manages endpoints and the delivery log for the API and console. It returns a signing secret
// only once, from CreateEndpoint or RotateSecret, and never logs one.
type Service struct {
	st     *store.Store
	keys   *secrets.KeyRing
	now    func() time.Time
	log    *slog.Logger
	sender *Sender
}

// NewService returns a Service; it uses Store, Keys, Now, Log and Timeout from o.
func NewService(o Options) *Service {
	return &Service{st: o.Store, keys: o.Keys, now: o.now(), log: o.log(), sender: NewSender(o.Timeout, o.now())}
}

// Endpoint is an endpoint as callers see it: never its secrets.
type Endpoint struct {
	ID, URL, Description string
	EventTypes           []string // empty: every type
	Source               string   // store.WebhookSourceEnv or store.WebhookSourceAPI
	DisabledAt           *time.Time
	DisabledReason       string
	Secrets              []SecretInfo // the signing secrets in use, newest first
	CreatedAt, UpdatedAt time.Time
}

// SecretInfo describes one signing secret without revealing it.
type SecretInfo struct {
	CreatedAt time.Time
	ExpiresAt *time.Time // nil: current, no end
}

// EndpointInput creates an endpoint. Secret is optional ("" generates one).
type EndpointInput struct {
	URL, Description string
	EventTypes       []string
	Secret           string
}

// EndpointPatch changes an endpoint; nil fields stay as they are.
type EndpointPatch struct {
	URL, Description *string
	EventTypes       *[]string
	Enabled          *bool
}

// RotateInput rotates an endpoint's secret. Secret "" generates one; Grace nil means
// DefaultRotationGrace, 0 retires the old secrets at once.
type RotateInput struct {
	Secret string
	Grace  *time.Duration
}

// Delivery is one event's delivery to one endpoint with its attempt log, oldest attempt first.
type Delivery struct {
	store.WebhookDelivery
	Log []store.WebhookAttempt
}

func endpointNotFound(id string) error {
	return fault.New(fault.NotFound, "endpoint_not_found", "There is no webhook endpoint %s.", safeID(id))
}

// safeID keeps caller-supplied ids printable and short in messages.
func safeID(id string) string {
	if len(id) > 64 || strings.IndexFunc(id, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return "with that id"
	}
	return id
}

// CreateEndpoint stores a new endpoint and returns it with its signing secret, the only time the secret
// is shown.
func (s *Service) CreateEndpoint(ctx context.Context, in EndpointInput) (Endpoint, string, error) {
	u, err := checkURL(in.URL)
	if err != nil {
		return Endpoint{}, "", err
	}
	types, err := checkEventTypes(in.EventTypes)
	if err != nil {
		return Endpoint{}, "", err
	}
	desc, err := checkDescription(in.Description)
	if err != nil {
		return Endpoint{}, "", err
	}
	secret := in.Secret
	if secret == "" {
		secret = NewSecret()
	} else if err := CheckSecret(secret); err != nil {
		return Endpoint{}, "", fault.Wrap(err, fault.Invalid, "invalid_secret", "The secret must be whsec_ followed by 24 to 64 bytes in standard base64.")
	}
	now := s.now()
	e := store.WebhookEndpoint{
		ID: store.NewID(store.PrefixWebhookEndpoint), URL: u, Description: desc, EventTypes: types,
		Source: store.WebhookSourceAPI, CreatedAt: now, UpdatedAt: now,
	}
	set := secretSet{{Secret: secret, CreatedAt: now.UnixMicro()}}
	if e.Secrets, e.KeyID, err = sealSecrets(s.keys, e.ID, set); err != nil {
		return Endpoint{}, "", err
	}
	if err := s.st.InsertWebhookEndpoint(ctx, &e); err != nil {
		return Endpoint{}, "", fmt.Errorf("webhook: create endpoint: %w", err)
	}
	s.log.InfoContext(ctx, "webhook endpoint created", "endpoint", e.ID, "event_types", types)
	return s.view(e, set), secret, nil
}

// GetEndpoint returns one endpoint.
func (s *Service) GetEndpoint(ctx context.Context, id string) (Endpoint, error) {
	e, err := s.st.GetWebhookEndpoint(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Endpoint{}, endpointNotFound(id)
	}
	if err != nil {
		return Endpoint{}, err
	}
	return s.viewSealed(ctx, e), nil
}

// ListEndpoints returns a page of endpoints, newest first, and the next page's cursor.
func (s *Service) ListEndpoints(ctx context.Context, limit int, cursor string) ([]Endpoint, string, error) {
	rows, next, err := s.st.ListWebhookEndpoints(ctx, store.WebhookEndpointFilter{Limit: limit, Cursor: cursor})
	if err != nil {
		return nil, "", err
	}
	out := make([]Endpoint, len(rows))
	for i, e := range rows {
		out[i] = s.viewSealed(ctx, e)
	}
	return out, next, nil
}

// UpdateEndpoint applies p. The environment's endpoint keeps the URL the environment gives it. Enabling
// a disabled endpoint sends only events recorded from then on; stopped deliveries can be redelivered.
func (s *Service) UpdateEndpoint(ctx context.Context, id string, p EndpointPatch) (Endpoint, error) {
	var (
		u, desc string
		types   []string
		err     error
	)
	if p.URL != nil {
		if u, err = checkURL(*p.URL); err != nil {
			return Endpoint{}, err
		}
	}
	if p.EventTypes != nil {
		if types, err = checkEventTypes(*p.EventTypes); err != nil {
			return Endpoint{}, err
		}
	}
	if p.Description != nil {
		if desc, err = checkDescription(*p.Description); err != nil {
			return Endpoint{}, err
		}
	}
	var out store.WebhookEndpoint
	err = s.st.InTx(ctx, func(q *store.Queries) error {
		e, err := q.LockWebhookEndpoint(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return endpointNotFound(id)
		}
		if err != nil {
			return err
		}
		now := s.now()
		if p.URL != nil && u != e.URL {
			if e.Source == store.WebhookSourceEnv {
				return fault.New(fault.Conflict, "endpoint_managed_by_env", "This endpoint's URL comes from HITCH_WEBHOOK_URL; change it there.")
			}
			e.URL = u
		}
		if p.EventTypes != nil {
			e.EventTypes = types
		}
		if p.Description != nil {
			e.Description = desc
		}
		if p.Enabled != nil && !*p.Enabled && e.DisabledAt == nil {
			if _, err := q.DisableWebhookEndpoint(ctx, e.ID, "disabled by an admin", now); err != nil {
				return err
			}
			e.DisabledAt, e.DisabledReason = &now, "disabled by an admin"
		}
		if p.Enabled != nil && *p.Enabled {
			e.DisabledAt, e.DisabledReason = nil, ""
		}
		e.UpdatedAt = now
		out = e
		return q.UpdateWebhookEndpoint(ctx, &e)
	})
	if err != nil {
		return Endpoint{}, err
	}
	s.log.InfoContext(ctx, "webhook endpoint updated", "endpoint", out.ID, "disabled", out.DisabledAt != nil)
	return s.viewSealed(ctx, out), nil
}

// DisableEndpoint disables an endpoint and stops its pending deliveries. Disabling twice is harmless.
func (s *Service) DisableEndpoint(ctx context.Context, id string) (Endpoint, error) {
	off := false
	return s.UpdateEndpoint(ctx, id, EndpointPatch{Enabled: &off})
}

// RotateSecret makes a new secret current; the old ones keep signing (every message carries one
// signature per secret) until the grace period ends. It returns the new secret, the only time it is shown.
func (s *Service) RotateSecret(ctx context.Context, id string, in RotateInput) (Endpoint, string, error) {
	grace := DefaultRotationGrace
	if in.Grace != nil {
		grace = *in.Grace
	}
	if grace < 0 || grace > MaxRotationGrace {
		return Endpoint{}, "", fault.New(fault.Invalid, "invalid_grace", "The grace period must be between 0 and %d seconds.", int(MaxRotationGrace/time.Second))
	}
	secret := in.Secret
	if secret == "" {
		secret = NewSecret()
	} else if err := CheckSecret(secret); err != nil {
		return Endpoint{}, "", fault.Wrap(err, fault.Invalid, "invalid_secret", "The secret must be whsec_ followed by 24 to 64 bytes in standard base64.")
	}
	var (
		out store.WebhookEndpoint
		set secretSet
	)
	err := s.st.InTx(ctx, func(q *store.Queries) error {
		e, err := q.LockWebhookEndpoint(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return endpointNotFound(id)
		}
		if err != nil {
			return err
		}
		if e.Source == store.WebhookSourceEnv {
			return fault.New(fault.Conflict, "endpoint_managed_by_env", "This endpoint's secret comes from HITCH_WEBHOOK_SECRET; change it there and restart.")
		}
		old, err := openSecrets(s.keys, e.ID, e.Secrets)
		if err != nil {
			return err
		}
		now := s.now()
		set = old.rotated(secret, now, grace)
		if e.Secrets, e.KeyID, err = sealSecrets(s.keys, e.ID, set); err != nil {
			return err
		}
		e.UpdatedAt = now
		out = e
		return q.UpdateWebhookEndpoint(ctx, &e)
	})
	if err != nil {
		return Endpoint{}, "", err
	}
	s.log.InfoContext(ctx, "webhook secret rotated", "endpoint", out.ID, "grace", grace, "secrets", len(set))
	return s.view(out, set), secret, nil
}

// SyncEnvEndpoint makes the stored environment endpoint match HITCH_WEBHOOK_URL and
// HITCH_WEBHOOK_SECRET: created when first configured, updated (and enabled again) when either changes,
// with a changed secret rotated in so the old one signs for DefaultRotationGrace; disabled when the URL
// is no longer set. An endpoint disabled by a 410 or the API stays disabled while the settings are
// unchanged.
func (s *Service) SyncEnvEndpoint(ctx context.Context, rawURL, secret string) error {
	if rawURL != "" {
		if _, err := checkURL(rawURL); err != nil {
			return fmt.Errorf("HITCH_WEBHOOK_URL: %w", err)
		}
		if err := CheckSecret(secret); err != nil {
			return fmt.Errorf("HITCH_WEBHOOK_SECRET: %w", err)
		}
	}
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		// Replicas starting together may both try to create it; the loser finds it on the next pass.
		if err = s.syncEnv(ctx, rawURL, secret); !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return err
}

func (s *Service) syncEnv(ctx context.Context, rawURL, secret string) error {
	return s.st.InTx(ctx, func(q *store.Queries) error {
		now := s.now()
		e, err := q.LockWebhookEndpoint(ctx, EnvEndpointID)
		if errors.Is(err, store.ErrNotFound) {
			if rawURL == "" {
				return nil
			}
			e = store.WebhookEndpoint{
				ID: EnvEndpointID, URL: rawURL, Description: "HITCH_WEBHOOK_URL", Source: store.WebhookSourceEnv,
				CreatedAt: now, UpdatedAt: now,
			}
			set := secretSet{{Secret: secret, CreatedAt: now.UnixMicro()}}
			if e.Secrets, e.KeyID, err = sealSecrets(s.keys, e.ID, set); err != nil {
				return err
			}
			if err := q.InsertWebhookEndpoint(ctx, &e); err != nil {
				return err
			}
			s.log.InfoContext(ctx, "webhook endpoint from the environment created", "endpoint", e.ID)
			return nil
		}
		if err != nil {
			return err
		}
		if rawURL == "" {
			changed, err := q.DisableWebhookEndpoint(ctx, e.ID, "HITCH_WEBHOOK_URL is no longer set", now)
			if changed {
				s.log.InfoContext(ctx, "webhook endpoint from the environment disabled: HITCH_WEBHOOK_URL is not set", "endpoint", e.ID)
			}
			return err
		}
		set, err := openSecrets(s.keys, e.ID, e.Secrets)
		if err != nil {
			return err
		}
		if e.URL == rawURL && len(set) > 0 && set[0].Secret == secret {
			if e.DisabledAt != nil {
				s.log.WarnContext(ctx, "webhook endpoint from the environment is disabled; change its URL or secret, or enable it through the API",
					"endpoint", e.ID, "reason", e.DisabledReason)
			}
			return nil
		}
		if len(set) == 0 || set[0].Secret != secret {
			set = set.rotated(secret, now, DefaultRotationGrace)
		}
		e.URL, e.DisabledAt, e.DisabledReason, e.UpdatedAt = rawURL, nil, "", now
		if e.Secrets, e.KeyID, err = sealSecrets(s.keys, e.ID, set); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "webhook endpoint from the environment updated", "endpoint", e.ID, "secrets", len(set))
		return q.UpdateWebhookEndpoint(ctx, &e)
	})
}

// DeliveryQuery selects deliveries for ListDeliveries.
type DeliveryQuery struct {
	Status string // "" or one of the store.Delivery* statuses
	Limit  int
	Cursor string
}

// ListDeliveries returns a page of an endpoint's deliveries, newest first, each with its attempt log.
func (s *Service) ListDeliveries(ctx context.Context, endpointID string, f DeliveryQuery) ([]Delivery, string, error) {
	switch f.Status {
	case "", store.DeliveryPending, store.DeliveryDelivered, store.DeliveryFailed, store.DeliveryDisabled:
	default:
		return nil, "", fault.New(fault.Invalid, "invalid_query", "status must be pending, delivered, failed or disabled.")
	}
	if _, err := s.st.GetWebhookEndpoint(ctx, endpointID); errors.Is(err, store.ErrNotFound) {
		return nil, "", endpointNotFound(endpointID)
	} else if err != nil {
		return nil, "", err
	}
	rows, next, err := s.st.ListWebhookDeliveries(ctx, store.WebhookDeliveryFilter{
		EndpointID: endpointID, Status: f.Status, Limit: f.Limit, Cursor: f.Cursor,
	})
	if err != nil {
		return nil, "", err
	}
	out, err := s.withLogs(ctx, rows)
	return out, next, err
}

func (s *Service) withLogs(ctx context.Context, rows []store.WebhookDelivery) ([]Delivery, error) {
	ids := make([]string, len(rows))
	for i, d := range rows {
		ids[i] = d.ID
	}
	attempts, err := s.st.ListWebhookAttempts(ctx, ids)
	if err != nil {
		return nil, err
	}
	byDelivery := make(map[string][]store.WebhookAttempt, len(rows))
	for _, a := range attempts {
		byDelivery[a.DeliveryID] = append(byDelivery[a.DeliveryID], a)
	}
	out := make([]Delivery, len(rows))
	for i, d := range rows {
		d.Payload = nil
		out[i] = Delivery{WebhookDelivery: d, Log: byDelivery[d.ID]}
		if out[i].Log == nil {
			out[i].Log = []store.WebhookAttempt{}
		}
	}
	return out, nil
}

// Redeliver sends a delivery again now, outside its schedule, with the same webhook-id, and logs the
// attempt. Success marks it delivered; failure leaves its status and schedule as they were; a 410
// disables the endpoint.
func (s *Service) Redeliver(ctx context.Context, deliveryID string) (Delivery, error) {
	d, err := s.st.GetWebhookDelivery(ctx, deliveryID)
	if errors.Is(err, store.ErrNotFound) {
		return Delivery{}, fault.New(fault.NotFound, "delivery_not_found", "There is no webhook delivery %s.", safeID(deliveryID))
	}
	if err != nil {
		return Delivery{}, err
	}
	e, err := s.st.GetWebhookEndpoint(ctx, d.EndpointID)
	if err != nil {
		return Delivery{}, err
	}
	if e.DisabledAt != nil {
		return Delivery{}, fault.New(fault.Conflict, "endpoint_disabled", "The endpoint is disabled; enable it before redelivering.")
	}
	set, err := openSecrets(s.keys, e.ID, e.Secrets)
	if err != nil {
		return Delivery{}, err
	}
	at := s.now()
	signer, err := NewSigner(set.active(at)...)
	if err != nil {
		return Delivery{}, fmt.Errorf("webhook: endpoint %s: %w", e.ID, err)
	}
	res := s.sender.Send(ctx, Message{ID: d.EventID, URL: e.URL, Body: d.Payload, Signer: signer, At: at})
	a := attemptOf(d.ID, at, res)
	err = s.st.InTx(ctx, func(q *store.Queries) error {
		if err := q.RecordWebhookRedelivery(ctx, &a, res.OK()); err != nil {
			return err
		}
		if res.Gone() {
			_, err := q.DisableWebhookEndpoint(ctx, e.ID, goneReason, at)
			return err
		}
		return nil
	})
	if err != nil {
		return Delivery{}, err
	}
	s.log.InfoContext(ctx, "webhook redelivered", "delivery", d.ID, "endpoint", e.ID, "status", res.StatusCode, "error", res.Err)
	d, err = s.st.GetWebhookDelivery(ctx, deliveryID)
	if err != nil {
		return Delivery{}, err
	}
	out, err := s.withLogs(ctx, []store.WebhookDelivery{d})
	if err != nil {
		return Delivery{}, err
	}
	return out[0], nil
}

// goneReason is recorded on an endpoint disabled by a 410 answer.
const goneReason = "the endpoint answered 410 Gone"

// attemptOf turns a Result into the attempt row the log keeps.
func attemptOf(deliveryID string, at time.Time, r Result) store.WebhookAttempt {
	return store.WebhookAttempt{
		DeliveryID: deliveryID, AttemptedAt: at, StatusCode: r.StatusCode, LatencyMS: int(r.Latency.Milliseconds()),
		ResponseExcerpt: r.Excerpt, Error: attemptError(r),
	}
}

func attemptError(r Result) string {
	switch {
	case r.Err != "":
		return r.Err
	case r.OK():
		return ""
	default:
		return fmt.Sprintf("the endpoint answered %d", r.StatusCode)
	}
}

func (s *Service) view(e store.WebhookEndpoint, set secretSet) Endpoint {
	v := Endpoint{
		ID: e.ID, URL: e.URL, Description: e.Description, EventTypes: e.EventTypes, Source: e.Source,
		DisabledAt: e.DisabledAt, DisabledReason: e.DisabledReason, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
		Secrets: []SecretInfo{},
	}
	if v.EventTypes == nil {
		v.EventTypes = []string{}
	}
	now := s.now().UnixMicro()
	for _, x := range set {
		if x.ExpiresAt != 0 && x.ExpiresAt <= now {
			continue
		}
		info := SecretInfo{CreatedAt: time.UnixMicro(x.CreatedAt).UTC()}
		if x.ExpiresAt != 0 {
			t := time.UnixMicro(x.ExpiresAt).UTC()
			info.ExpiresAt = &t
		}
		v.Secrets = append(v.Secrets, info)
	}
	return v
}

// viewSealed is view for a stored endpoint; secrets that cannot be opened (a key no longer configured)
// are logged and shown as none, so one bad row does not hide the rest.
func (s *Service) viewSealed(ctx context.Context, e store.WebhookEndpoint) Endpoint {
	set, err := openSecrets(s.keys, e.ID, e.Secrets)
	if err != nil {
		s.log.WarnContext(ctx, "webhook endpoint secrets cannot be opened", "endpoint", e.ID, "error", err)
	}
	return s.view(e, set)
}

func checkURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	bad := func(why string) error {
		return fault.New(fault.Invalid, "invalid_url", "The endpoint URL %s.", why)
	}
	if raw == "" {
		return "", bad("is required")
	}
	if len(raw) > maxURLLen {
		return "", bad(fmt.Sprintf("is longer than %d characters", maxURLLen))
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return "", bad("must be an absolute http or https URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", bad("must use http or https")
	case u.Host == "" || u.Hostname() == "":
		return "", bad("has no host")
	case u.User != nil:
		return "", bad("must not carry a user name or password")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", bad("must not have a fragment")
	}
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && forbiddenAddr(ip) {
		return "", bad("must not point at a link-local, multicast or unspecified address (such as a cloud metadata service)")
	}
	return u.String(), nil
}

func checkEventTypes(types []string) ([]string, error) {
	out := make([]string, 0, len(types))
	seen := make(map[string]bool, len(types))
	for _, t := range types {
		if !events.Known(t) {
			return nil, fault.New(fault.Invalid, "invalid_event_type", "eventTypes may hold only %s.", strings.Join(events.Types, ", "))
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}

func checkDescription(d string) (string, error) {
	d = strings.TrimSpace(d)
	if len([]rune(d)) > maxDescriptionLen || strings.IndexFunc(d, unicode.IsControl) >= 0 {
		return "", fault.New(fault.Invalid, "invalid_description", "The description must be at most %d printable characters.", maxDescriptionLen)
	}
	return d, nil
}
