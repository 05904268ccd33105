package fanout

import (
	"context"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
)

// Hub is the WebSocket server: it accepts connections at its HTTP handler
// and routes subscriptions to the streams of the symbols.
type Hub struct {
	cfg     Config
	metrics *Metrics

	writeBudget time.Duration // min(WriteTimeout, MaxQueueAge): bound of one data write

	mu      sync.RWMutex        // guards streams and conns; never held during I/O
	streams map[string]*Streams // of each symbol
	conns   map[*Conn]struct{}
	// bySlot holds the connections of each ping slot (ping.go).
	bySlot [pingSlots]map[*Conn]struct{}
	closed bool

	// admitted counts connections from admission to their end, so the
	// MaxConnections bound holds under parallel upgrades.
	admitted atomic.Int64
	connSeq  atomic.Uint64 // connections created, for their ping slots

	pingOnce sync.Once
	stopPing chan struct{} // closed by Shutdown

	epoch    time.Time // origin of clock
	pollOnce sync.Once
	poller   *poller // nil until the first polled connection, or if unavailable
}

// NewHub returns a hub with cfg's defaults applied. m may be nil, in which
// case unregistered metrics are used.
func NewHub(cfg Config, m *Metrics) (*Hub, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Hub{
		cfg:         cfg,
		writeBudget: min(cfg.WriteTimeout, cfg.MaxQueueAge),
		metrics:     m,
		streams:     make(map[string]*Streams),
		conns:       make(map[*Conn]struct{}),
		stopPing:    make(chan struct{}),
		epoch:       time.Now(),
	}, nil
}

// clock returns the monotonic time since the hub was created, in
// nanoseconds; connections record their last frame with it.
func (h *Hub) clock() int64 { return int64(time.Since(h.epoch)) }

// NewStreams creates and registers the streams of sym, served from its
// market state, which sym's owner goroutine changes. Streams registered
// earlier for the same symbol are replaced. Safe from any goroutine (a
// Group calls it when its owner defines a symbol).
func (h *Hub) NewStreams(sym *market.Symbol) *Streams {
	symbol := sym.Name()
	t := &Streams{
		symbol:   symbol,
		hub:      h,
		sym:      sym,
		book:     sym.Book(),
		chBook:   "book." + symbol,
		chTicker: "ticker." + symbol,
		chTrades: "trades." + symbol,
	}
	h.mu.Lock()
	h.streams[symbol] = t
	h.mu.Unlock()
	return t
}

// Streams returns the streams of symbol, or nil. Safe from any goroutine.
func (h *Hub) Streams(symbol string) *Streams {
	h.mu.RLock()
	t := h.streams[symbol]
	h.mu.RUnlock()
	return t
}

// SymbolStatus describes one symbol's book for listings.
type SymbolStatus struct {
	Symbol string `json:"symbol"`
	// State is "live", "waiting" or "stale", as in book status messages.
	State string `json:"state"`
	// Reason says why a stale book is stale (the reason of its status
	// messages); absent otherwise.
	Reason string `json:"reason,omitempty"`
	Seq    uint64 `json:"seq"`
	// Epoch is the publisher epoch of Seq.
	Epoch uint64 `json:"epoch"`
}

// Symbols lists every symbol with its book state as its market state
// last published it, sorted by symbol. Safe from any goroutine.
func (h *Hub) Symbols() []SymbolStatus {
	h.mu.RLock()
	out := make([]SymbolStatus, 0, len(h.streams))
	for _, t := range h.streams {
		st := t.sym.Published()
		out = append(out, SymbolStatus{Symbol: t.symbol, State: st.State.String(), Reason: st.Reason, Seq: st.Seq, Epoch: st.Epoch})
	}
	h.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Symbol < out[j].Symbol })
	return out
}

// ServeHTTP upgrades the request to a WebSocket connection and serves it.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.RLock()
	closed := h.closed
	h.mu.RUnlock()
	if closed {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	if !h.reserveSlot() {
		h.metrics.Rejected.WithLabelValues("max_connections").Inc()
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	sess, ok := h.admit(w, r)
	if !ok {
		h.admitted.Add(-1)
		return
	}
	var ext *wsflate.Extension
	up := ws.HTTPUpgrader{}
	if !h.cfg.DisableCompression {
		ext = &wsflate.Extension{Parameters: wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}}
		up.Negotiate = ext.Negotiate
	}
	nc, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		// UpgradeHTTP has already answered with a 4xx.
		h.admitted.Add(-1)
		return
	}
	// Keep whatever the client sent after the handshake: it is read before
	// the socket itself.
	var pending []byte
	if n := rw.Reader.Buffered(); n > 0 {
		p, _ := rw.Reader.Peek(n)
		pending = append([]byte(nil), p...)
	}
	deflate := false
	if ext != nil {
		_, deflate = ext.Accepted()
	}
	h.serve(nc, pending, deflate, sess)
}

// reserveSlot reserves a connection slot, or reports false at
// MaxConnections. The slot is given back when the connection ends (or
// when it is refused before it starts).
func (h *Hub) reserveSlot() bool {
	for {
		n := h.admitted.Load()
		if h.cfg.MaxConnections > 0 && n >= int64(h.cfg.MaxConnections) {
			return false
		}
		if h.admitted.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// serve runs a connection whose handshake is done; pending holds the client
// bytes read along with the handshake, and sess is its admitted session,
// nil without an Authorizer.
func (h *Hub) serve(nc net.Conn, pending []byte, deflate bool, sess Session) {
	if sess != nil {
		if r := sess.Start(); r != nil {
			reason := "unauthorized"
			if r.Close == schemas.CloseConnectionLimit {
				reason = "connection_limit"
			}
			h.metrics.Disconnects.WithLabelValues(reason).Inc()
			_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = nc.Write(closeFrame(r.Close, r.Message))
			nc.Close()
			h.admitted.Add(-1)
			return
		}
	}
	c := newConn(h, nc)
	c.deflate = deflate
	c.sess = sess
	h.preparePoll(c)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		if sess != nil {
			sess.End()
		}
		_, _ = nc.Write(closeFrame(schemas.CloseGoingAway, "server shutting down"))
		nc.Close()
		h.admitted.Add(-1)
		return
	}
	h.conns[c] = struct{}{}
	if h.bySlot[c.pingSlot] == nil {
		h.bySlot[c.pingSlot] = make(map[*Conn]struct{})
	}
	h.bySlot[c.pingSlot][c] = struct{}{}
	h.mu.Unlock()
	h.metrics.Connections.Inc()
	h.metrics.ConnectionsTotal.Inc()

	c.send(&schemas.ServerMessage{
		Type:           schemas.TypeWelcome,
		Protocol:       schemas.ProtocolVersion,
		Server:         "marketfeed",
		PingIntervalMS: h.cfg.PingInterval.Milliseconds(),
		TS:             time.Now().UnixMicro(),
	})
	c.startLifetime()
	h.startPinger()
	c.startReading(pending)
}

func (h *Hub) removeConn(c *Conn) {
	h.mu.Lock()
	delete(h.conns, c)
	delete(h.bySlot[c.pingSlot], c)
	h.mu.Unlock()
	h.admitted.Add(-1)
	h.metrics.Connections.Dec()
}

// ConnCount returns the number of open connections. Safe from any goroutine.
func (h *Hub) ConnCount() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns)
}

// Shutdown refuses new connections, sends every client a close frame with
// code 1001 after its queued messages, and waits until all connections are
// gone or ctx ends. Half-way to ctx's deadline, a client still taking its
// queued messages gets the close frame after the message being written
// instead; at the deadline, the sockets left are closed.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	if !h.closed {
		close(h.stopPing)
	}
	h.closed = true
	h.pollOnce.Do(func() {}) // no poller starts from now on
	pl := h.poller
	conns := make([]*Conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.noticeShutdown()
		c.closeWith(schemas.CloseGoingAway, "server shutting down", "shutdown")
	}
	// Closing connections need no poller: each one's reader is woken when
	// its writer ends (Conn.wakeReader).
	if pl != nil {
		pl.stop()
	}
	// Half-way to the deadline, connections still writing their queue (slow
	// readers) drop the rest, so that their close frame gets through.
	if d, ok := ctx.Deadline(); ok {
		t := time.AfterFunc(time.Until(d)/2, func() {
			for _, c := range conns {
				c.hurryClose()
			}
		})
		defer t.Stop()
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
