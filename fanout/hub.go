package fanout

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// Hub is the WebSocket server: it accepts connections at its HTTP handler
// and routes subscriptions to the topics of the symbols. The connections'
// transport is a wsconn.Transport; the hub holds their sessions.
type Hub struct {
	cfg     Config
	metrics *Metrics
	tr      *wsconn.Transport

	mu     sync.RWMutex // guards topics, conns and closed; never held during I/O
	topics map[string]*Streams
	conns  map[*Conn]struct{}
	closed bool

	// admitted counts connections from admission to their end, so the
	// MaxConnections bound holds under parallel upgrades.
	admitted atomic.Int64
}

// NewHub returns a hub with cfg's defaults applied. m may be nil, in which
// case unregistered metrics are used.
func NewHub(cfg Config, m *Metrics) (*Hub, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	tr, err := wsconn.New(cfg.Transport(), m.transport(), noticeLifetime)
	if err != nil {
		return nil, err
	}
	return &Hub{
		cfg:     cfg,
		metrics: m,
		tr:      tr,
		topics:  make(map[string]*Streams),
		conns:   make(map[*Conn]struct{}),
	}, nil
}

// NewStreams creates and registers the topic of symbol, served from book and
// ticker, which owner's goroutine changes. A topic registered earlier for
// the same symbol is replaced. Safe from any goroutine.
func (h *Hub) NewStreams(symbol string, owner Owner, book *orderbook.Book, ticker *orderbook.Ticker, priceScale, sizeScale int) *Streams {
	t := &Streams{
		symbol:   symbol,
		hub:      h,
		owner:    owner,
		book:     book,
		ticker:   ticker,
		sc:       scales{price: priceScale, size: sizeScale},
		chBook:   "book." + symbol,
		chTicker: "ticker." + symbol,
		chTrades: "trades." + symbol,
	}
	t.publish()
	h.mu.Lock()
	h.topics[symbol] = t
	h.mu.Unlock()
	return t
}

// Streams returns the topic of symbol, or nil. Safe from any goroutine.
func (h *Hub) Streams(symbol string) *Streams {
	h.mu.RLock()
	t := h.topics[symbol]
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

// Symbols lists every symbol with its book state, sorted by symbol. Safe
// from any goroutine.
func (h *Hub) Symbols() []SymbolStatus {
	h.mu.RLock()
	out := make([]SymbolStatus, 0, len(h.topics))
	for _, t := range h.topics {
		st, seq := t.State()
		out = append(out, SymbolStatus{Symbol: t.symbol, State: st.String(), Reason: t.Reason(), Seq: seq, Epoch: t.Epoch()})
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
	u, err := h.tr.Upgrade(w, r)
	if err != nil {
		// The upgrade has already answered with a 4xx.
		h.admitted.Add(-1)
		return
	}
	h.serve(u, sess)
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

// serve runs a connection whose handshake is done; sess is its admitted
// session, nil without an Authorizer.
func (h *Hub) serve(u *wsconn.Upgraded, sess Session) {
	if sess != nil {
		if r := sess.Start(); r != nil {
			reason := "unauthorized"
			if r.Close == schemas.CloseConnectionLimit {
				reason = "connection_limit"
			}
			h.metrics.Disconnects.WithLabelValues(reason).Inc()
			u.Refuse(r.Close, r.Message)
			h.admitted.Add(-1)
			return
		}
	}
	c := &Conn{hub: h, subs: make(map[string]*subscription), sess: sess}
	c.ws = h.tr.Accept(u, (*handler)(c))
	if c.ws == nil { // shutting down
		if sess != nil {
			sess.End()
		}
		h.admitted.Add(-1)
		return
	}
	h.mu.Lock()
	h.conns[c] = struct{}{}
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
	c.ws.Start()
}

func (h *Hub) removeConn(c *Conn) {
	h.mu.Lock()
	delete(h.conns, c)
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
// code 1001 after its queued messages (a shutdown notice first), and waits
// until all connections are gone or ctx ends. Half-way to ctx's deadline,
// a client still taking its queued messages gets the close frame after the
// message being written instead; at the deadline, the sockets left are
// closed.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	return h.tr.Shutdown(ctx, noticeShutdown)
}
