package auth

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/schemas"
)

// Gate is the fanout.Authorizer backed by a Store: it reads the key of an
// upgrade request, checks its Origin and limits failed attempts per client
// address. Safe for concurrent use once built.
type Gate struct {
	// Store holds the keys. Required.
	Store *Store
	// Origins lists the browser origins ("https://app.example.com")
	// allowed to connect; "*" allows any. Empty allows requests without an
	// Origin header (non-browser clients) and pages served from one of
	// PublicHosts only.
	Origins []string
	// PublicHosts are the host names under which clients reach the server
	// ("feed.example.com", any port; "feed.example.com:8443", that port
	// only). With Origins empty, a browser page whose origin is one of them
	// may connect. The request's Host header is never trusted for this: a
	// page of any site can reach the server under the site's own name by
	// DNS rebinding. Empty: no browser page may connect unless Origins
	// lists it.
	PublicHosts []string
	// Limiter limits failed attempts per client address. Nil means a
	// FailureLimiter with its defaults. Set it before the first request.
	Limiter *FailureLimiter

	once sync.Once
}

// limiter returns Limiter, creating the default one on first use.
func (g *Gate) limiter() *FailureLimiter {
	g.once.Do(func() {
		if g.Limiter == nil {
			g.Limiter = &FailureLimiter{}
		}
	})
	return g.Limiter
}

// NewGate returns a gate over store with the origin allow-list.
func NewGate(store *Store, origins []string) *Gate {
	return &Gate{Store: store, Origins: origins, Limiter: &FailureLimiter{}}
}

// PresentedKey returns the key of an upgrade request: the Authorization
// bearer token, else the X-API-Key header, else the api_key query
// parameter; "" when none is present.
func PresentedKey(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if scheme, tok, ok := strings.Cut(a, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
	}
	if k := r.Header.Get("X-API-Key"); k != "" {
		return strings.TrimSpace(k)
	}
	return r.URL.Query().Get("api_key")
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (g *Gate) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	for _, o := range g.Origins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	if len(g.Origins) == 0 {
		return publicOrigin(origin, g.PublicHosts)
	}
	return false
}

// publicOrigin reports whether a browser origin ("https://host[:port]") is
// one of hosts: a host name alone matches it on any port, host:port only on
// that port (the scheme's default port when the origin names none).
func publicOrigin(origin string, hosts []string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	name, port := normalHost(u.Hostname()), u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "http", "ws":
			port = "80"
		case "https", "wss":
			port = "443"
		}
	}
	for _, h := range hosts {
		hn, hp, err := net.SplitHostPort(h)
		if err != nil {
			hn, hp = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), ""
		}
		if normalHost(hn) == name && (hp == "" || hp == port) {
			return true
		}
	}
	return false
}

// normalHost is a host name in the form compared: lower case, without a
// trailing dot.
func normalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// Admit implements fanout.Authorizer.
func (g *Gate) Admit(r *http.Request) (fanout.Session, *fanout.Refusal) {
	m := g.Store.metrics
	if !g.originAllowed(r) {
		m.Failures.WithLabelValues("origin").Inc()
		return nil, &fanout.Refusal{Status: http.StatusForbidden, Code: schemas.CodeUnauthorized,
			Message: "origin not allowed"}
	}
	addr := clientAddr(r)
	lim := g.limiter()
	if lim.Blocked(addr) {
		m.Failures.WithLabelValues("rate_limited").Inc()
		return nil, &fanout.Refusal{Status: http.StatusTooManyRequests, Code: schemas.CodeRateLimited,
			Message: "too many failed attempts; try again later"}
	}
	p, err := g.Store.Authenticate(PresentedKey(r))
	if err != nil {
		lim.Fail(addr)
		return nil, &fanout.Refusal{Status: http.StatusUnauthorized, Code: schemas.CodeUnauthorized, Message: err.Error()}
	}
	return &session{store: g.Store, p: p}, nil
}

// AdmitKey implements fanout.Authorizer for the auth message.
func (g *Gate) AdmitKey(key, addr string) (fanout.Session, *fanout.Refusal) {
	lim := g.limiter()
	if lim.Blocked(addr) {
		g.Store.metrics.Failures.WithLabelValues("rate_limited").Inc()
		return nil, &fanout.Refusal{Code: schemas.CodeRateLimited, Close: schemas.CloseUnauthorized,
			Message: "too many failed attempts; try again later"}
	}
	if key == "" {
		key = "-" // an empty key would name the anonymous principal
	}
	p, err := g.Store.Authenticate(key)
	if err != nil {
		lim.Fail(addr)
		return nil, &fanout.Refusal{Code: schemas.CodeUnauthorized, Close: schemas.CloseUnauthorized, Message: err.Error()}
	}
	return &session{store: g.Store, p: p}, nil
}

// session is one admitted connection's principal.
type session struct {
	store *Store
	p     Principal
}

func (s *session) Start() *fanout.Refusal {
	err := s.store.Acquire(s.p)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrConnectionLimit):
		return &fanout.Refusal{Code: DenyConnections, Close: schemas.CloseConnectionLimit, Message: err.Error()}
	}
	return &fanout.Refusal{Code: schemas.CodeUnauthorized, Close: schemas.CloseUnauthorized, Message: err.Error()}
}

func (s *session) End() { s.store.Release(s.p) }

func (s *session) Check() *fanout.Refusal {
	if _, err := s.store.Entitlements(s.p); err != nil {
		s.store.metrics.Revocations.WithLabelValues(reasonOf(err)).Inc()
		return &fanout.Refusal{Code: schemas.CodeUnauthorized, Close: schemas.CloseUnauthorized, Message: err.Error()}
	}
	return nil
}

func (s *session) Allow(kind schemas.ChannelKind, symbol string, depth int, period time.Duration) *fanout.Refusal {
	e, err := s.store.Entitlements(s.p)
	if err != nil {
		return &fanout.Refusal{Code: schemas.CodeUnauthorized, Close: schemas.CloseUnauthorized, Message: err.Error()}
	}
	reason, msg := e.Allow(kind, symbol, depth, period)
	if reason == "" {
		return nil
	}
	s.store.metrics.Denials.WithLabelValues(reason).Inc()
	return &fanout.Refusal{Code: schemas.CodeNotEntitled, Message: msg}
}

func (s *session) Limits() (int, int) {
	e, err := s.store.Entitlements(s.p)
	if err != nil {
		return 0, 0
	}
	return e.MaxSubscriptions, e.MessagesPerSecond
}

// Access is what one plain HTTP request (the REST endpoints) may see.
type Access struct {
	// Caller names the request's principal for rate limits: "key:" and the
	// key id, or "addr:" and the client address for anonymous requests.
	Caller string
	// Entitlements are the principal's under the key file in force.
	Entitlements *Entitlements

	store *Store
}

// Allow checks a one-off read of kind for symbol at depth (0 for other
// kinds) and returns "" when allowed, else a message naming what the plan
// lacks; a denial is counted by reason as for a subscription. A read is
// not a stream, so the plan's fastest interval does not apply.
func (a Access) Allow(kind schemas.ChannelKind, symbol string, depth int) string {
	reason, msg := a.Entitlements.Allow(kind, symbol, depth, a.Entitlements.MinInterval)
	if reason != "" {
		a.store.metrics.Denials.WithLabelValues(reason).Inc()
	}
	return msg
}

// Request authenticates a plain HTTP request with the key it presents
// (PresentedKey: the same header and query parameter as the WebSocket
// upgrade; none means the anonymous plan). Failures are limited per client
// address as for the WebSocket. Browser origins are not checked: a
// response carries no CORS header, so a page of another site cannot read
// it. The refusal's Status is the HTTP status to answer with.
func (g *Gate) Request(r *http.Request) (Access, *fanout.Refusal) {
	addr := clientAddr(r)
	lim := g.limiter()
	if lim.Blocked(addr) {
		g.Store.metrics.Failures.WithLabelValues("rate_limited").Inc()
		return Access{}, &fanout.Refusal{Status: http.StatusTooManyRequests, Code: schemas.CodeRateLimited,
			Message: "too many failed attempts; try again later"}
	}
	p, err := g.Store.Authenticate(PresentedKey(r))
	var e *Entitlements
	if err == nil {
		e, err = g.Store.Entitlements(p)
	}
	if err != nil {
		lim.Fail(addr)
		return Access{}, &fanout.Refusal{Status: http.StatusUnauthorized, Code: schemas.CodeUnauthorized, Message: err.Error()}
	}
	caller := "key:" + p.ID
	if p.Anonymous() {
		caller = "addr:" + addr
	}
	return Access{Caller: caller, Entitlements: e, store: g.Store}, nil
}
