package fanout

import (
	"encoding/json"
	"net"
	"net/http"
	"time"

	"github.com/marketfeed/marketfeed/schemas"
)

// Authorizer decides who may connect and what each connection may receive
// (Config.Authorizer). Its methods are called from connection goroutines
// and must be safe for concurrent use.
type Authorizer interface {
	// Admit checks an upgrade request before the upgrade. A refusal is
	// answered with its HTTP status and message.
	Admit(r *http.Request) (Session, *Refusal)
	// AdmitKey checks a key sent in an auth message by the client at
	// addr (host only). The refusal's message must not contain the key.
	AdmitKey(key, addr string) (Session, *Refusal)
}

// Session is the rights of one admitted connection. The hub calls Start
// once after the upgrade, End once when the connection is finished (only
// if Start succeeded), and Check, Allow and Limits in between, from the
// connection's goroutines or from Hub.Recheck's caller, never two at once.
type Session interface {
	// Start takes the connection's slot; a refusal closes the connection
	// with its close code (4004 for a connection limit).
	Start() *Refusal
	// End gives the slot back.
	End()
	// Check reports whether the connection may stay open; a refusal is
	// sent as an error and the connection closed with its close code.
	Check() *Refusal
	// Allow checks one subscription; period is zero for raw. A refusal is
	// sent as an error reply naming the channel.
	Allow(kind schemas.ChannelKind, symbol string, depth int, period time.Duration) *Refusal
	// Limits returns the session's subscriptions per connection and
	// commands per second; zero means no limit of the session's own.
	Limits() (maxSubscriptions, messagesPerSecond int)
}

// Refusal is why an Authorizer or Session said no. Message is shown to
// the client and must not contain secrets.
type Refusal struct {
	// Status is the HTTP status of a refused upgrade.
	Status int
	// Code is the error code (schemas.Code*).
	Code string
	// Close is the close code of a refused connection (schemas.Close*).
	Close int
	// Message explains the refusal.
	Message string
}

// Recheck applies changed entitlements to every open connection: a
// connection whose session no longer passes Check is sent the refusal and
// closed; a subscription its session no longer allows is ended with a
// not_entitled error and an unsubscribed message. Safe from any goroutine;
// it returns once every connection was checked.
func (h *Hub) Recheck() {
	if h.cfg.Authorizer == nil {
		return
	}
	h.mu.RLock()
	conns := make([]*Conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.RUnlock()
	for _, c := range conns {
		c.recheck()
	}
}

// recheck re-checks the connection's session and subscriptions under
// smu; the unsubscribes it decides are posted to their owners after smu
// is released, as an owner's queue may be full.
func (c *Conn) recheck() {
	c.smu.Lock()
	var ended []*subscription
	if c.sess != nil && !c.isClosing() {
		if r := c.sess.Check(); r != nil {
			c.refuse(0, r)
		} else {
			for ch, s := range c.subs {
				if r := c.sess.Allow(s.kind, s.symbol(), s.depth, s.interval.Period()); r != nil {
					c.sendError(0, r.Code, r.Message, ch)
					ended = append(ended, c.removeSub(0, ch))
				} else {
					s.reallow.Store(true)
				}
			}
		}
	}
	c.smu.Unlock()
	for _, s := range ended {
		if s.kind == schemas.ChannelTickers {
			c.hub.unsubscribeTickers(c, s, 0, true)
			continue
		}
		if !s.streams.post(func() { s.streams.unsubscribe(c, s, 0, true) }) {
			c.send(&schemas.ServerMessage{Type: schemas.TypeUnsubscribed, Channel: s.channel})
		}
	}
}

// refuse sends r as an error (echoing id) and closes the connection with
// its code. The error is the last message before the close frame: it
// travels in the close itself, after the frames already queued, and no
// frame is accepted once the close is set.
func (c *Conn) refuse(id int64, r *Refusal) {
	frame := messageFrame(&schemas.ServerMessage{Type: schemas.TypeError, ID: id, Code: r.Code, Message: r.Message})
	if c.ws.CloseAfter(frame, r.Close, r.Message, "unauthorized") {
		c.hub.metrics.ClientErrors.WithLabelValues(r.Code).Inc()
	}
}

// allowed checks a subscription against the session, replying with the
// refusal when it is not allowed.
func (c *Conn) allowed(id int64, s *subscription) bool {
	if c.sess == nil {
		return true
	}
	if r := c.sess.Check(); r != nil {
		c.refuse(id, r)
		return false
	}
	if r := c.sess.Allow(s.kind, s.symbol(), s.depth, s.interval.Period()); r != nil {
		c.sendError(id, r.Code, r.Message, s.channel)
		return false
	}
	return true
}

// maxSubscriptions is the connection's subscription limit.
func (c *Conn) maxSubscriptions() int {
	n := c.hub.cfg.MaxSubscriptions
	if c.sess != nil {
		if m, _ := c.sess.Limits(); m > 0 && m < n {
			n = m
		}
	}
	return n
}

// rateOK spends one command of the connection's rate budget (a token
// bucket with a burst of one second's worth): the smaller of
// Config.MaxMessagesPerSecond and the session's limit. Read goroutine only.
func (c *Conn) rateOK() bool {
	perSec := c.hub.cfg.MaxMessagesPerSecond
	if c.sess != nil {
		if _, p := c.sess.Limits(); p > 0 && (perSec <= 0 || p < perSec) {
			perSec = p
		}
	}
	if perSec <= 0 {
		return true
	}
	now := time.Now()
	if c.rateAt.IsZero() {
		c.rateTokens, c.rateAt = perSec, now
	}
	if add := int(now.Sub(c.rateAt) * time.Duration(perSec) / time.Second); add > 0 {
		c.rateTokens = min(perSec, c.rateTokens+add)
		c.rateAt = c.rateAt.Add(time.Duration(add) * time.Second / time.Duration(perSec))
		if c.rateTokens == perSec {
			c.rateAt = now
		}
	}
	if c.rateTokens == 0 {
		return false
	}
	c.rateTokens--
	return true
}

// admit runs the authorizer on an upgrade request; it writes the refusal
// and returns false when the request is refused.
func (h *Hub) admit(w http.ResponseWriter, r *http.Request) (Session, bool) {
	if h.cfg.Authorizer == nil {
		return nil, true
	}
	sess, ref := h.cfg.Authorizer.Admit(r)
	if ref != nil {
		h.metrics.ClientErrors.WithLabelValues(ref.Code).Inc()
		w.Header().Set("Content-Type", "application/json")
		if ref.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="marketfeed"`)
		}
		w.WriteHeader(ref.Status)
		body, _ := json.Marshal(&schemas.ServerMessage{Type: schemas.TypeError, Code: ref.Code, Message: ref.Message})
		_, _ = w.Write(body)
		return nil, false
	}
	return sess, true
}

// authenticate handles an auth command: accepted only as the first
// message of a connection admitted without a key (the anonymous plan), it
// replaces the session with the key's. It returns false when the
// connection must stop reading. smu is held (the Authorizer's and the
// sessions' locks nest inside it, see doc.go).
func (c *Conn) authenticate(id int64, key string) bool {
	if c.sess == nil || c.hub.cfg.Authorizer == nil || c.msgs != 1 {
		c.sendError(id, schemas.CodeInvalidRequest, "auth is only accepted as the first message of a connection without a key", "")
		return c.countInvalid()
	}
	addr := c.ws.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	sess, r := c.hub.cfg.Authorizer.AdmitKey(key, addr)
	if r == nil {
		r = sess.Start()
	}
	if r != nil {
		r.Code = schemas.CodeUnauthorized
		c.refuse(id, r)
		return false
	}
	c.sess.End()
	c.sess = sess
	c.rateAt = time.Time{}
	c.send(&schemas.ServerMessage{Type: schemas.TypeAuthenticated, ID: id})
	return true
}
