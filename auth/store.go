package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Authentication errors. Their text never contains the presented key.
var (
	// ErrNoKey: no key was presented and there is no anonymous plan.
	ErrNoKey = errors.New("an API key is required")
	// ErrInvalidKey: the key is malformed or unknown.
	ErrInvalidKey = errors.New("invalid API key")
	// ErrRevoked: the key was revoked.
	ErrRevoked = errors.New("API key revoked")
	// ErrExpired: the key has expired.
	ErrExpired = errors.New("API key expired")
	// ErrConnectionLimit: the key already has its maximum of connections.
	ErrConnectionLimit = errors.New("connection limit of this API key reached")
)

// AnonymousID is the principal id of clients without a key.
const AnonymousID = "anonymous"

// Principal is who a client is: a key id or AnonymousID. What it may do is
// looked up afresh with Store.Entitlements, so changes to the key file
// apply to principals already authenticated.
type Principal struct {
	// ID is the key id, or AnonymousID.
	ID string
}

// Anonymous reports whether p presented no key.
func (p Principal) Anonymous() bool { return p.ID == AnonymousID }

// Store holds the key file in force and the connection counts. See the
// package documentation for its concurrency contract.
type Store struct {
	path    string
	log     *slog.Logger
	metrics *Metrics
	snap    atomic.Pointer[snapshot]

	statMu  sync.Mutex // guards modTime, size (the last file loaded) and anon
	modTime time.Time
	size    int64
	anon    string // overrides the file's anonymous plan when set

	lmu       sync.Mutex
	listeners []func()

	cmu   sync.Mutex
	conns map[string]int
}

// Open loads the key file at path. m may be nil (unregistered metrics);
// log nil means slog.Default().
func Open(path string, m *Metrics, log *slog.Logger) (*Store, error) {
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Store{path: path, log: log, metrics: m, conns: make(map[string]int)}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Metrics returns the store's metrics.
func (s *Store) Metrics() *Metrics { return s.metrics }

// Reload reads the key file again. On error the keys in force stay as they
// were. On success every change listener is called.
func (s *Store) Reload() error {
	st, err := os.Stat(s.path)
	if err != nil {
		s.metrics.Reloads.WithLabelValues("error").Inc()
		return err
	}
	f, err := ReadFile(s.path)
	s.statMu.Lock()
	s.modTime, s.size = st.ModTime(), st.Size()
	anon := s.anon
	s.statMu.Unlock()
	var snap *snapshot
	if err == nil {
		switch anon {
		case "":
		case NoAnonymous:
			f.Anonymous = ""
		default:
			f.Anonymous = anon
		}
		snap, err = f.compile()
	}
	if err != nil {
		s.metrics.Reloads.WithLabelValues("error").Inc()
		return err
	}
	s.snap.Store(snap)
	s.metrics.Reloads.WithLabelValues("ok").Inc()
	s.log.Info("key file loaded", "path", s.path, "keys", len(snap.byID), "anonymous", snap.anonymous != nil)
	s.notify()
	return nil
}

// NoAnonymous, given to SetAnonymous, refuses clients without a key
// whatever the key file says.
const NoAnonymous = "none"

// SetAnonymous makes plan (a plan of the key file) the anonymous plan
// instead of the file's "anonymous" field, NoAnonymous refuses clients
// without a key, "" follows the file again. It reloads the file and fails,
// leaving the previous setting, if the plan is not defined.
func (s *Store) SetAnonymous(plan string) error {
	s.statMu.Lock()
	prev := s.anon
	s.anon = plan
	s.statMu.Unlock()
	if err := s.Reload(); err != nil {
		s.statMu.Lock()
		s.anon = prev
		s.statMu.Unlock()
		return err
	}
	return nil
}

// OnChange registers fn to be called after every successful reload and
// whenever a key's expiry time passes.
func (s *Store) OnChange(fn func()) {
	s.lmu.Lock()
	s.listeners = append(s.listeners, fn)
	s.lmu.Unlock()
}

func (s *Store) notify() {
	s.lmu.Lock()
	ls := append([]func(){}, s.listeners...)
	s.lmu.Unlock()
	for _, fn := range ls {
		fn()
	}
}

// Watch polls the key file every interval (zero means DefaultKeysPoll,
// 250ms) and reloads it when its modification time or size changes; it
// also notifies the listeners when a key's expiry time passes. It returns
// when ctx ends.
func (s *Store) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultKeysPoll
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if s.changed() {
				if err := s.Reload(); err != nil {
					s.log.Warn("key file not reloaded; the previous keys stay in force", "path", s.path, "err", err)
				}
			} else if s.expiredBetween(last, now) {
				s.notify()
			}
			last = now
		}
	}
}

func (s *Store) changed() bool {
	st, err := os.Stat(s.path)
	if err != nil {
		return false
	}
	s.statMu.Lock()
	defer s.statMu.Unlock()
	return !st.ModTime().Equal(s.modTime) || st.Size() != s.size
}

func (s *Store) expiredBetween(from, to time.Time) bool {
	for _, e := range s.snap.Load().expiries {
		if e.After(from) && !e.After(to) {
			return true
		}
	}
	return false
}

// Authenticate returns the principal a presented key names. An empty
// secret yields the anonymous principal if the key file has an anonymous
// plan, else ErrNoKey. Failures are counted by reason; the secret is never
// logged or returned.
func (s *Store) Authenticate(secret string) (Principal, error) {
	snap := s.snap.Load()
	if secret == "" {
		if snap.anonymous == nil {
			s.metrics.Failures.WithLabelValues("missing").Inc()
			return Principal{}, ErrNoKey
		}
		return Principal{ID: AnonymousID}, nil
	}
	if !wellFormed(secret) {
		s.metrics.Failures.WithLabelValues("malformed").Inc()
		return Principal{}, ErrInvalidKey
	}
	h := sha256.Sum256([]byte(secret))
	k := snap.byHash[h]
	if k == nil || !sameHash(&k.hash, &h) {
		s.metrics.Failures.WithLabelValues("unknown").Inc()
		return Principal{}, ErrInvalidKey
	}
	if _, err := k.check(time.Now()); err != nil {
		s.metrics.Failures.WithLabelValues(reasonOf(err)).Inc()
		return Principal{}, err
	}
	return Principal{ID: k.id}, nil
}

func (k *key) check(now time.Time) (*Entitlements, error) {
	switch {
	case k.revoked:
		return nil, ErrRevoked
	case !k.expires.IsZero() && !now.Before(k.expires):
		return nil, ErrExpired
	}
	return k.ent, nil
}

// reasonOf maps an authentication error to its metric label.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, ErrRevoked):
		return "revoked"
	case errors.Is(err, ErrExpired):
		return "expired"
	case errors.Is(err, ErrNoKey):
		return "missing"
	}
	return "unknown"
}

// Entitlements returns what p may receive under the key file in force:
// ErrRevoked or ErrExpired when p's key is no longer valid, ErrInvalidKey
// when it was removed from the file, ErrNoKey for an anonymous principal
// when the anonymous plan was withdrawn.
func (s *Store) Entitlements(p Principal) (*Entitlements, error) {
	snap := s.snap.Load()
	if p.Anonymous() {
		if snap.anonymous == nil {
			return nil, ErrNoKey
		}
		return snap.anonymous, nil
	}
	k := snap.byID[p.ID]
	if k == nil {
		return nil, ErrInvalidKey
	}
	return k.check(time.Now())
}

// Acquire takes one of p's connection slots, failing with
// ErrConnectionLimit when its plan's MaxConnections are in use. Exactly
// MaxConnections of any number of parallel calls succeed. Each success
// must be matched by one Release.
func (s *Store) Acquire(p Principal) error {
	e, err := s.Entitlements(p)
	if err != nil {
		return err
	}
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if e.MaxConnections > 0 && s.conns[p.ID] >= e.MaxConnections {
		s.metrics.Denials.WithLabelValues(DenyConnections).Inc()
		return ErrConnectionLimit
	}
	s.conns[p.ID]++
	return nil
}

// Release gives back a connection slot taken by Acquire.
func (s *Store) Release(p Principal) {
	s.cmu.Lock()
	if s.conns[p.ID] <= 1 {
		delete(s.conns, p.ID)
	} else {
		s.conns[p.ID]--
	}
	s.cmu.Unlock()
}

// Connections returns how many connection slots p holds.
func (s *Store) Connections(p Principal) int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.conns[p.ID]
}
