package fanout

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/schemas"
)

// Conn is one client's protocol session over its WebSocket connection
// (package wsconn, which owns the socket, the outbound queue, the writer
// and the reader): its subscriptions, its authorization session, the
// commands it sends, and what it does when it falls behind (lag.go). The
// reader role of the connection parses commands; streams' owners queue
// shared frames from their own goroutines through ws, which never blocks.
type Conn struct {
	hub *Hub
	ws  *wsconn.Conn
	// enc is the encoding of the connection's market data, chosen by its
	// subprotocol at the handshake; it never changes.
	enc schemas.Encoding

	lagSubs atomic.Pointer[[]*subscription] // subscriptions that conflate on lag, nil if none

	// smu guards subs and sess. They change only on the reader, under
	// smu, so the reader reads them with or without it; Hub.Recheck holds
	// it while it re-checks the connection. smu is never held across a
	// post to a streams' owner, whose queue may be full (see doc.go).
	smu  sync.Mutex
	subs map[string]*subscription
	sess Session // nil without an Authorizer

	// Reader state: touched only by the goroutine holding the reader role.
	invalid    int
	msgs       int // text messages handled
	rateTokens int
	rateAt     time.Time
}

// handler is the face a Conn shows its transport (wsconn.Handler); a
// type of its own, so that these methods are not part of Conn's API.
type handler Conn

func (h *handler) HandleText(msg []byte) bool { return (*Conn)(h).handleText(msg) }
func (h *handler) Conflates() bool            { return h.lagSubs.Load() != nil }
func (h *handler) Lag()                       { (*Conn)(h).skipAhead() }
func (h *handler) Ending()                    { (*Conn)(h).end() }
func (h *handler) Ended()                     { h.hub.removeConn((*Conn)(h)) }

// Kinds of the frames a session queues: state frames (books and tickers
// of subscriptions that conflate on lag) are dropped while it skips
// ahead, the others never.
const (
	kindKeep  = wsconn.Keep
	kindState = wsconn.State
)

// stateKind is the kind of a book or ticker frame for a subscription that
// conflates on lag (lag) or not.
func stateKind(lag bool) wsconn.Kind {
	if lag {
		return kindState
	}
	return kindKeep
}

// enqueue queues a control-plane frame (or a trade, or any frame that is
// never dropped); see enqueueKind.
func (c *Conn) enqueue(frame []byte) bool { return c.ws.Send(frame, kindKeep) }

// enqueueKind queues a complete, shared frame of the given kind; false
// means it was refused (the connection is closing or skipping ahead).
// Any goroutine; never blocks (wsconn.Conn.Send).
func (c *Conn) enqueueKind(frame []byte, kind wsconn.Kind) bool { return c.ws.Send(frame, kind) }

// sendData queues a market-data frame of the given kind meant for this
// connection alone, compressed when the connection negotiated it and the
// frame is large enough.
func (c *Conn) sendData(frame []byte, kind wsconn.Kind) bool {
	if c.ws.Compresses(len(frame)) {
		if z := wsconn.Deflate(frame); z != nil {
			return c.ws.Send(z, kind)
		}
	}
	return c.ws.Send(frame, kind)
}

// send queues a control-plane message.
func (c *Conn) send(m *schemas.ServerMessage) {
	c.enqueue(messageFrame(m))
}

// sendError replies with a protocol error and counts it.
func (c *Conn) sendError(id int64, code, msg, channel string) {
	c.hub.metrics.ClientErrors.WithLabelValues(code).Inc()
	c.send(&schemas.ServerMessage{Type: schemas.TypeError, ID: id, Code: code, Message: msg, Channel: channel})
}

// closeWith closes the connection with code and reason after what is
// queued, counted under metricReason; the first close wins.
func (c *Conn) closeWith(code int, reason, metricReason string) {
	c.ws.CloseWith(code, reason, metricReason)
}

func (c *Conn) isClosing() bool { return c.ws.Closing() }

// end runs once the connection's reading has ended (wsconn.Handler's
// Ending): every subscription is removed from its stream, on the stream's
// owner, and the session's slot given back. The posts follow smu's
// release: an owner's queue may be full.
func (c *Conn) end() {
	c.lagSubs.Store(nil)
	c.smu.Lock()
	gone := make([]*subscription, 0, len(c.subs))
	for ch, s := range c.subs {
		s.gone.Store(true)
		gone = append(gone, s)
		delete(c.subs, ch)
		c.hub.metrics.Subscriptions.Dec()
	}
	if c.sess != nil {
		c.sess.End()
		c.sess = nil
	}
	c.smu.Unlock()
	for _, s := range gone {
		if s.kind == schemas.ChannelTickers {
			c.hub.unsubscribeTickers(c, s, 0, false)
			continue
		}
		s.streams.post(func() { s.streams.unsubscribe(c, s, 0, false) })
	}
}

// noticeShutdown is the notice that tells a client the server is going
// away; the close with 1001 follows it in the same queue.
func noticeShutdown() []byte {
	return messageFrame(&schemas.ServerMessage{
		Type:    schemas.TypeNotice,
		Code:    schemas.NoticeShutdown,
		Message: "server shutting down; reconnect",
		TS:      time.Now().UnixMicro(),
	})
}

// noticeLifetime is the notice that announces a lifetime close (4005)
// closeIn ahead.
func noticeLifetime(closeIn time.Duration) []byte {
	return messageFrame(&schemas.ServerMessage{
		Type:      schemas.TypeNotice,
		Code:      schemas.NoticeLifetime,
		Message:   "connection lifetime reached; reconnect within " + closeIn.String(),
		CloseInMS: closeIn.Milliseconds(),
		TS:        time.Now().UnixMicro(),
	})
}
