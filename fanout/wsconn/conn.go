package wsconn

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/schemas"
)

// Handler is the layer above a connection: it gets the client's text
// messages and is told when the connection falls behind and when it ends.
type Handler interface {
	// HandleText handles one complete client text message (inflated and
	// valid UTF-8; msg is valid only during the call). It runs on the
	// goroutine holding the connection's reader role, one message at a
	// time, and returns false when the connection must stop reading (it
	// was closed).
	HandleText(msg []byte) bool
	// Conflates reports whether the connection has frames of kind State
	// that a skip-ahead may replace (subscriptions that conflate on lag).
	// A late connection that conflates skips ahead; one that does not is
	// evicted. Any goroutine; it must not block.
	Conflates() bool
	// Lag runs, on a goroutine of its own, when a skip-ahead begins: the
	// connection refuses every State frame from then on. Lag stops the
	// producers of State frames, calls Conn.Fence, and, if that reports
	// true, restarts them from a fresh state.
	Lag()
	// Ending runs once, on the reader, when the connection ends, before
	// the close frame is written: the handler stops sending to it.
	Ending()
	// Ended runs once the connection is finished (Done is closed).
	Ended()
}

// Kind says whether a frame may be dropped.
type Kind uint8

// Kinds of frames. The writer drops State frames while the connection
// skips ahead; it never drops the others.
const (
	// Keep is a frame that is never dropped: control-plane messages,
	// trades, subscriptions that evict on lag.
	Keep Kind = iota
	// State is a book or ticker frame of a subscription that conflates on
	// lag.
	State
	kindFence // marker of a skip-ahead, never written
)

// Conn is one WebSocket connection. Producers (any goroutine) queue
// shared frames with Send; queueing never blocks, never takes a lock
// while the ring has room and never performs I/O. A writer goroutine
// exists only while the queue has frames (see doc.go).
type Conn struct {
	t  *Transport
	h  Handler
	nc net.Conn

	q       frameQueue
	queued  atomic.Int64              // bytes pushed and not yet written
	running atomic.Bool               // a writer goroutine is active (or has finished for good)
	closing atomic.Pointer[closeInfo] // set once: how the connection ends
	lagging atomic.Bool               // dropping State frames while skipping ahead
	hurry   atomic.Bool               // a closing connection drops what is queued (Shutdown running out of time)
	fence   atomic.Pointer[chan struct{}]
	sample  atomic.Int64 // event time (µs) of the oldest unsampled frame sent with one, or -1

	since    int64        // writer only: every unsent frame was queued after it (transport clock)
	drainAt  int64        // writer only: when the queue was last found empty (transport clock)
	lagAt    atomic.Int64 // when the skip-ahead under way began (transport clock)
	pingSlot uint32       // the pinger's slot of this connection (ping.go)

	writer func()        // c.writeLoop, bound once: starting a writer allocates nothing
	wdone  chan struct{} // closed when the last writer has ended
	done   chan struct{} // closed when the connection is finished

	lmu      sync.Mutex  // guards lifetime; never on the data path
	lifetime *time.Timer // nil without MaxLifetime

	deflate  bool // permessage-deflate negotiated; set before the goroutines start
	coalesce bool // the socket takes no vectored write (TLS): batches are copied into one write

	// wdeadline is the write deadline last set by a writer (UnixNano);
	// writer only (writers hand over through running).
	wdeadline int64

	// Poller state (poll.go); pl is nil for a connection with a read
	// goroutine of its own.
	pl       *poller
	pollID   uint64
	rc       syscall.RawConn
	rstate   atomic.Int32 // readerArmed or readerRunning: who holds the reader role
	lastRead atomic.Int64 // when the last frame arrived, transport clock
	pending  []byte       // client bytes read with the handshake, not yet handled

	// Reader state: touched only by the goroutine holding the reader role.
	rs         readState
	peerClosed bool // the client's close frame or EOF was read
}

// closeInfo says how a connection ends. drop means that queued frames are
// discarded rather than written first.
type closeInfo struct {
	code   int
	reason string
	drop   bool
	frame  bool   // a close frame is written
	last   []byte // a frame written just before the close frame, or nil
}

var (
	evictInfo  = &closeInfo{code: schemas.CloseSlowConsumer, reason: "slow consumer: queue budget exceeded", drop: true, frame: true}
	brokenInfo = &closeInfo{drop: true} // the socket failed: nothing more is written
	normalInfo = &closeInfo{code: schemas.CloseNormal, frame: true}
	pingFrame  = ControlFrame(ws.OpPing, nil)
	fenceFrame = ControlFrame(0, nil) // the fence's entry in the queue; never written
)

func newConn(t *Transport, nc net.Conn, h Handler) *Conn {
	c := &Conn{
		t:     t,
		h:     h,
		nc:    nc,
		wdone: make(chan struct{}),
		done:  make(chan struct{}),
	}
	c.sample.Store(-1)
	c.writer = c.writeLoop
	cfg := &t.cfg
	c.q.init(cfg.QueueFrames, max(cfg.QueueFrames, cfg.MaxQueueBytes/16))
	c.pingSlot = pingSlot(t.connSeq.Add(1))
	_, vectored := nc.(*net.TCPConn)
	c.coalesce = !vectored
	if n := cfg.SocketSendBuffer; n > 0 {
		if tc, ok := nc.(interface{ SetWriteBuffer(int) error }); ok {
			_ = tc.SetWriteBuffer(n)
		}
	}
	if n := cfg.SocketNotSentLowat; n > 0 {
		setNotSentLowat(nc, n)
	}
	return c
}

// Start serves the connection: its lifetime is armed, the transport's
// pinger runs, and the client's frames are read (the bytes that came with
// the handshake first), in the poller or in a read goroutine.
func (c *Conn) Start() {
	c.startLifetime()
	c.t.startPinger()
	c.startReading()
}

// Send queues a complete frame of the given kind (shared, never modified
// afterwards) and makes sure a writer runs. It returns false, dropping the
// frame, if the connection is closing, or if the frame is a State frame
// and the connection is skipping ahead or would pass half its byte
// budget, which starts a skip-ahead (Handler.Lag). Any other frame that
// would pass MaxQueueBytes evicts the connection as a slow consumer.
// Safe from any goroutine; lock-free while the ring has room; never
// blocks.
func (c *Conn) Send(frame []byte, kind Kind) bool {
	if c.closing.Load() != nil || kind == State && c.lagging.Load() {
		return false
	}
	n := int64(len(frame))
	limit := int64(c.t.cfg.MaxQueueBytes)
	if kind == State {
		limit /= 2 // the other half is kept for what is never dropped
	}
	// A frame larger than the budget still goes to an empty queue: it
	// could never be sent otherwise.
	if q := c.queued.Add(n); q > limit && q != n || !c.q.push(frame, kind) {
		c.queued.Add(-n)
		if kind == State {
			c.startLag()
		} else {
			c.Evict()
		}
		return false
	}
	c.kick()
	return true
}

// SendAt is Send for a frame that carries an exchange event of time ts
// (Unix µs): the delivery latency is sampled from it once per write (the
// oldest such frame queued since the last sample).
//
// The sample is set before the frame is queued. Set after, it could miss
// a writer that has already written the frame, and be taken by the next
// write instead, however much later an idle connection makes that.
func (c *Conn) SendAt(frame []byte, kind Kind, ts int64) bool {
	set := c.sample.Load() < 0 && c.sample.CompareAndSwap(-1, ts)
	if !c.Send(frame, kind) {
		if set {
			c.sample.CompareAndSwap(ts, -1) // the frame is not sent
		}
		return false
	}
	return true
}

// Compresses reports whether a frame of n bytes goes to this connection
// compressed (Deflate): the client negotiated permessage-deflate and n is
// at least CompressMinSize. Any goroutine.
func (c *Conn) Compresses(n int) bool { return c.deflate && n >= c.t.cfg.CompressMinSize }

// kick starts a writer unless one is active. The check of running follows
// the publication of the frame, and the writer clears running before its
// last look at the queue, so a frame is never left without a writer.
func (c *Conn) kick() {
	if !c.running.Load() && c.running.CompareAndSwap(false, true) {
		go c.writer()
	}
}

// markEvicted marks the connection as a slow consumer and counts it,
// unless it is already closing; it reports whether it did.
func (c *Conn) markEvicted() bool {
	if !c.closing.CompareAndSwap(nil, evictInfo) {
		return false
	}
	c.t.metrics.Disconnects.WithLabelValues("slow_consumer").Inc()
	return true
}

// Evict closes the connection as a slow consumer (4001), dropping what is
// queued; a goroutine of its own cuts short any write in progress (the
// writer then completes the frame it was writing and sends the close
// frame), so that the caller returns at once. Any goroutine.
func (c *Conn) Evict() {
	if c.markEvicted() {
		go func() {
			_ = c.nc.SetWriteDeadline(time.Now())
			c.kick()
		}()
	}
}

// CloseWith arranges for a close frame with code and reason to follow the
// frames already queued; nothing more is accepted afterwards. The first
// close wins: it reports whether this one did, and then counts it under
// metric (Metrics.Disconnects) unless metric is empty. Any goroutine.
func (c *Conn) CloseWith(code int, reason, metric string) bool {
	return c.CloseAfter(nil, code, reason, metric)
}

// CloseAfter is CloseWith with last, a frame written (within CloseLinger)
// just before the close frame, after the frames already queued: a
// refusal's error message travels in the close itself.
func (c *Conn) CloseAfter(last []byte, code int, reason, metric string) bool {
	if !c.closing.CompareAndSwap(nil, &closeInfo{code: code, reason: reason, frame: true, last: last}) {
		return false
	}
	if metric != "" {
		c.t.metrics.Disconnects.WithLabelValues(metric).Inc()
	}
	c.kick()
	return true
}

// Closing reports whether the connection is closing or closed. Any
// goroutine.
func (c *Conn) Closing() bool { return c.closing.Load() != nil }

// Done is closed when the connection is finished.
func (c *Conn) Done() <-chan struct{} { return c.done }

// RemoteAddr returns the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// startLag starts a skip-ahead unless one is under way. Any goroutine.
func (c *Conn) startLag() {
	if c.lagging.CompareAndSwap(false, true) {
		c.lagAt.Store(c.t.clock())
		go c.h.Lag()
	}
}

// passFence tells the skip-ahead that the writer has popped its fence.
// Writer only.
func (c *Conn) passFence() {
	if ch := c.fence.Swap(nil); ch != nil {
		close(*ch)
	}
}

// Fence ends a skip-ahead whose State frames have stopped (Handler.Lag
// calls it once no producer queues any more of them): it queues a fence
// behind every frame queued so far and waits until the writer, dropping
// every State frame before it, has passed it. It then clears the lag, so
// that State frames are accepted again, and returns true; it returns false
// if the connection closed meanwhile, or was evicted because the fence was
// not reached within WriteTimeout.
func (c *Conn) Fence() bool {
	passed := make(chan struct{})
	c.fence.Store(&passed)
	if c.closing.Load() != nil {
		return false
	}
	c.queued.Add(int64(len(fenceFrame)))
	if !c.q.push(fenceFrame, kindFence) {
		c.queued.Add(-int64(len(fenceFrame)))
		c.Evict()
		return false
	}
	c.kick()
	select {
	case <-passed:
	case <-time.After(c.t.cfg.WriteTimeout):
		c.Evict() // the writer is stuck in a write the client does not take
		return false
	case <-c.wdone:
		return false
	}
	if c.closing.Load() != nil {
		return false
	}
	c.lagging.Store(false)
	return true
}

// Queued returns the bytes queued and not yet written. Any goroutine.
func (c *Conn) Queued() int64 { return c.queued.Load() }
