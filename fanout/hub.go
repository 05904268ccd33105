package fanout

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
)

// Hub is the WebSocket server: it accepts connections at its HTTP handler
// and routes subscriptions to the streams of the symbols. The connections'
// transport is a wsconn.Transport; the hub holds their sessions.
type Hub struct {
	cfg     Config
	metrics *Metrics
	tr      *wsconn.Transport

	mu      sync.RWMutex        // guards streams, conns and closed; never held during I/O
	streams map[string]*Streams // of each symbol
	conns   map[*Conn]struct{}
	closed  bool

	// admitted counts connections from admission to their end, so the
	// MaxConnections bound holds under parallel upgrades.
	admitted atomic.Int64

	board tickersBoard // the tickers channel
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
	tr, err := wsconn.New(cfg.Transport, m.transport(), noticeLifetime)
	if err != nil {
		return nil, err
	}
	return &Hub{
		cfg:     cfg,
		metrics: m,
		tr:      tr,
		streams: make(map[string]*Streams),
		conns:   make(map[*Conn]struct{}),
	}, nil
}

// NewStreams creates and registers the streams of sym, served from its
// market state, which sym's owner goroutine changes. Streams registered
// earlier for the same symbol are replaced. Safe from any goroutine (a
// Group calls it when its owner defines a symbol).
func (h *Hub) NewStreams(sym *market.Symbol) *Streams {
	symbol := sym.Name()
	t := &Streams{
		symbol:    symbol,
		hub:       h,
		sym:       sym,
		book:      sym.Book(),
		chBook:    "book." + symbol,
		chBBO:     "bbo." + symbol,
		chTicker:  "ticker." + symbol,
		chTrades:  "trades." + symbol,
		chCandles: "candles." + symbol,
		// published for the tickers channel at the first tick with subscribers
		boardDirty: true,
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
	enc, ok := h.negotiate(w, r)
	if !ok {
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
	u, err := h.tr.Upgrade(w, r, spoken)
	if err != nil {
		// The upgrade has already answered with a 4xx.
		h.admitted.Add(-1)
		return
	}
	if e, ok := schemas.EncodingOf(u.Subprotocol()); ok {
		enc = e
	}
	h.serve(u, sess, enc)
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
func (h *Hub) serve(u *wsconn.Upgraded, sess Session, enc schemas.Encoding) {
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
	c := &Conn{hub: h, subs: make(map[string]*subscription), sess: sess, enc: enc}
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
		PingIntervalMS: h.cfg.Transport.PingInterval.Milliseconds(),
		Encoding:       enc.String(),
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
	h.boardStop()
	return h.tr.Shutdown(ctx, noticeShutdown)
}
