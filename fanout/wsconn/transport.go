package wsconn

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the collectors the transport updates; the layer above
// creates and registers them (every field must be set).
type Metrics struct {
	MessagesSent prometheus.Counter
	BytesSent    prometheus.Counter
	// Disconnects is labelled by reason: the metric argument of
	// Conn.CloseWith, or one of the transport's own (slow_consumer,
	// idle_timeout, protocol_error, message_too_big, client_close,
	// client_gone, read_error, write_error, lifetime, shutdown).
	Disconnects *prometheus.CounterVec
	// DeliveryLatency is observed once per socket write that carried a
	// frame sent with an event time (Conn.SendAt).
	DeliveryLatency prometheus.Histogram
	// WriteBatch is the number of frames per socket write.
	WriteBatch prometheus.Histogram
}

// Transport serves the WebSocket connections of one server: the
// handshake, the hub-wide pinger and idle check, the epoll poller, and
// shutdown. Safe for concurrent use.
type Transport struct {
	cfg     Config
	metrics Metrics
	notice  func(closeIn time.Duration) []byte

	writeBudget time.Duration // min(WriteTimeout, MaxQueueAge): bound of one data write
	epoch       time.Time     // origin of clock

	mu sync.RWMutex // guards bySlot and closed; never held during I/O
	// bySlot holds the connections of each ping slot (ping.go): every
	// open connection is in exactly one.
	bySlot [pingSlots]map[*Conn]struct{}
	closed bool

	connSeq  atomic.Uint64 // connections created, for their ping slots
	pingOnce sync.Once
	stopPing chan struct{} // closed by Shutdown
	pollOnce sync.Once
	poller   *poller // nil until the first polled connection, or if unavailable
}

// New returns a transport with cfg's defaults applied. lifetimeNotice
// builds the frame that announces the lifetime close (queued
// LifetimeNotice before it, never dropped); nil sends none.
func New(cfg Config, m Metrics, lifetimeNotice func(closeIn time.Duration) []byte) (*Transport, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Transport{
		cfg:         cfg,
		metrics:     m,
		notice:      lifetimeNotice,
		writeBudget: min(cfg.WriteTimeout, cfg.MaxQueueAge),
		epoch:       time.Now(),
		stopPing:    make(chan struct{}),
	}, nil
}

// clock returns the monotonic time since the transport was created, in
// nanoseconds; connections record their last frame with it.
func (t *Transport) clock() int64 { return int64(time.Since(t.epoch)) }

// Upgraded is a connection whose WebSocket handshake is done, not yet
// served: Accept serves it, Refuse turns it away.
type Upgraded struct {
	nc       net.Conn
	pending  []byte // client bytes read with the handshake
	deflate  bool
	protocol string
}

// Subprotocol returns the subprotocol the handshake agreed on, "" when
// the client offered none.
func (u *Upgraded) Subprotocol() string { return u.protocol }

// Upgrade answers the WebSocket handshake of r, negotiating
// permessage-deflate (no context takeover) unless DisableCompression, and
// the subprotocol: the first one r offers (Sec-WebSocket-Protocol, in the
// client's order) that accept reports as spoken, named in the response;
// none when r offers none or accept is nil. On an error the client has
// been answered already (a 4xx).
func (t *Transport) Upgrade(w http.ResponseWriter, r *http.Request, accept func(protocol string) bool) (*Upgraded, error) {
	var ext *wsflate.Extension
	up := ws.HTTPUpgrader{Protocol: accept}
	if !t.cfg.DisableCompression {
		ext = &wsflate.Extension{Parameters: wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}}
		up.Negotiate = ext.Negotiate
	}
	nc, rw, hs, err := up.Upgrade(r, w)
	if err != nil {
		return nil, err
	}
	u := &Upgraded{nc: nc, protocol: hs.Protocol}
	// Keep whatever the client sent after the handshake: it is read before
	// the socket itself.
	if n := rw.Reader.Buffered(); n > 0 {
		p, _ := rw.Reader.Peek(n)
		u.pending = append([]byte(nil), p...)
	}
	if ext != nil {
		_, u.deflate = ext.Accepted()
	}
	return u, nil
}

// Refuse sends the client a close frame with code and reason (within a
// second) and closes the socket.
func (u *Upgraded) Refuse(code int, reason string) {
	_ = u.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = u.nc.Write(CloseFrame(code, reason))
	u.nc.Close()
}

// Accept makes u a connection served by t, whose incoming messages and end
// go to h. Nothing is read before Start; frames may be sent at once. It
// returns nil, having sent the client a close frame (1001), when t is
// shutting down.
func (t *Transport) Accept(u *Upgraded, h Handler) *Conn {
	c := newConn(t, u.nc, h)
	c.deflate = u.deflate
	c.pending = u.pending
	t.preparePoll(c)
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		if c.pl != nil {
			c.pl.remove(c)
		}
		_, _ = u.nc.Write(CloseFrame(schemas.CloseGoingAway, "server shutting down"))
		u.nc.Close()
		return nil
	}
	if t.bySlot[c.pingSlot] == nil {
		t.bySlot[c.pingSlot] = make(map[*Conn]struct{})
	}
	t.bySlot[c.pingSlot][c] = struct{}{}
	t.mu.Unlock()
	return c
}

func (t *Transport) remove(c *Conn) {
	t.mu.Lock()
	delete(t.bySlot[c.pingSlot], c)
	t.mu.Unlock()
}

// conns returns every open connection.
func (t *Transport) conns() []*Conn {
	var out []*Conn
	for i := range t.bySlot {
		for c := range t.bySlot[i] {
			out = append(out, c)
		}
	}
	return out
}

// Shutdown refuses new connections, queues notice() (if not nil) and then
// a close frame with code 1001 on every connection, after its queued
// frames, and waits until all connections are finished or ctx ends.
// Half-way to ctx's deadline, a client still taking its queued frames gets
// the close frame after the frame being written instead; at the deadline,
// the sockets left are closed.
func (t *Transport) Shutdown(ctx context.Context, notice func() []byte) error {
	t.mu.Lock()
	if !t.closed {
		close(t.stopPing)
	}
	t.closed = true
	t.pollOnce.Do(func() {}) // no poller starts from now on
	pl := t.poller
	conns := t.conns()
	t.mu.Unlock()
	for _, c := range conns {
		if notice != nil {
			c.Send(notice(), Keep)
		}
		c.CloseWith(schemas.CloseGoingAway, "server shutting down", "shutdown")
	}
	// Closing connections need no poller: each one's reader is woken when
	// its writer ends (Conn.wakeReader).
	if pl != nil {
		pl.stop()
	}
	// Half-way to the deadline, connections still writing their queue (slow
	// readers) drop the rest, so that their close frame gets through.
	if d, ok := ctx.Deadline(); ok {
		tm := time.AfterFunc(time.Until(d)/2, func() {
			for _, c := range conns {
				c.hurryClose()
			}
		})
		defer tm.Stop()
	}
	for _, c := range conns {
		select {
		case <-c.done:
		case <-ctx.Done():
			for _, c := range conns {
				c.nc.Close()
			}
			return ctx.Err()
		}
	}
	return nil
}

// prefixReader yields bytes already read from the connection before the
// connection itself.
type prefixReader struct {
	pending []byte
	conn    net.Conn
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.pending) > 0 {
		n := copy(b, p.pending)
		p.pending = p.pending[n:]
		return n, nil
	}
	return p.conn.Read(b)
}

// OfferedSubprotocols returns the subprotocols r offers
// (Sec-WebSocket-Protocol, RFC 6455 section 4.1: comma-separated tokens,
// possibly over several header lines), in the client's order.
func OfferedSubprotocols(r *http.Request) []string {
	var out []string
	for _, line := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(line, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
