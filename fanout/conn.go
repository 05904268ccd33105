package fanout

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/schemas"
)

// Conn is one WebSocket client. Its reader (a read goroutine for its whole
// life, or, under the hub's poller, one started while bytes are available)
// parses commands and owns subs. Topic owners enqueue shared frames from
// their own goroutines; enqueue never blocks, never takes a lock and never
// performs I/O. A writer goroutine exists only while the queue has frames
// (see doc.go).
type Conn struct {
	hub *Hub
	nc  net.Conn

	q       frameQueue
	queued  atomic.Int64              // bytes pushed and not yet written
	running atomic.Bool               // a writer goroutine is active (or has finished for good)
	closing atomic.Pointer[closeInfo] // set once: how the connection ends
	lagging atomic.Bool               // dropping frames while skipping ahead (lag.go)
	lagSubs atomic.Pointer[[]*subscription]

	writer func()        // c.writeLoop, bound once: starting a writer allocates nothing
	wdone  chan struct{} // closed when the last writer has ended
	done   chan struct{} // closed when the connection is finished

	lmu      sync.Mutex  // guards lifetime; never on the data path
	lifetime *time.Timer // nil without MaxLifetime

	deflate bool // permessage-deflate negotiated; set before the goroutines start

	// wdeadline is the write deadline last set by a writer (UnixNano);
	// writer only (writers hand over through running).
	wdeadline int64

	// Poller state (poll.go); pl is nil for a connection with a read
	// goroutine of its own.
	pl       *poller
	pollID   uint64
	rc       syscall.RawConn
	rstate   atomic.Int32 // readerArmed or readerRunning: who holds the reader role
	lastRead atomic.Int64 // when the last frame arrived, in hub-relative nanoseconds
	pending  []byte       // client bytes read with the handshake, not yet handled

	// smu guards subs and sess: the reader holds it while it
	// handles a command, Hub.Recheck while it re-checks the connection.
	smu  sync.Mutex
	subs map[string]*subscription
	sess Session // nil without an Authorizer

	// Reader state: touched only by the goroutine holding the reader role.
	rs         readState
	invalid    int
	msgs       int // text messages handled
	rateTokens int
	rateAt     time.Time
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
	pingFrame  = controlFrame(ws.OpPing, nil)
)

func newConn(h *Hub, nc net.Conn) *Conn {
	c := &Conn{
		hub:   h,
		nc:    nc,
		wdone: make(chan struct{}),
		done:  make(chan struct{}),
		subs:  make(map[string]*subscription),
	}
	c.writer = c.writeLoop
	c.q.init(h.cfg.QueueFrames)
	if n := h.cfg.SocketSendBuffer; n > 0 {
		if tc, ok := nc.(interface{ SetWriteBuffer(int) error }); ok {
			_ = tc.SetWriteBuffer(n)
		}
	}
	return c
}

// enqueue adds a complete frame to the outbound queue and makes sure a
// writer runs. It returns false, dropping the frame, if the connection is
// closing or skipping ahead (lag.go); a frame that would exceed the queue
// budget (MaxQueueBytes or QueueFrames) evicts the connection as a slow
// consumer, or starts a skip-ahead, instead of waiting. Safe from any
// goroutine; lock-free.
func (c *Conn) enqueue(frame []byte) bool {
	if c.closing.Load() != nil || c.lagging.Load() {
		return false
	}
	n := int64(len(frame))
	if c.queued.Add(n) > int64(c.hub.cfg.MaxQueueBytes) || !c.q.push(frame) {
		c.queued.Add(-n)
		c.overBudget()
		return false
	}
	c.kick()
	return true
}

// kick starts a writer unless one is active. The check of running follows
// the publication of the frame, and the writer clears running before its
// last look at the queue, so a frame is never left without a writer.
func (c *Conn) kick() {
	if !c.running.Load() && c.running.CompareAndSwap(false, true) {
		go c.writer()
	}
}

// overBudget handles a connection past its queue budget: a skip-ahead to
// fresh snapshots if its lag policy allows, an eviction otherwise.
func (c *Conn) overBudget() {
	if c.lagSubs.Load() != nil {
		if c.lagging.CompareAndSwap(false, true) {
			go c.skipAhead()
		}
		return
	}
	c.evict()
}

// evict marks the connection as a slow consumer; a goroutine of its own
// counts it and cuts short any write in progress, so that the caller (a
// topic owner) returns at once.
func (c *Conn) evict() {
	if c.closing.CompareAndSwap(nil, evictInfo) {
		go func() {
			c.hub.metrics.Disconnects.WithLabelValues("slow_consumer").Inc()
			_ = c.nc.SetWriteDeadline(time.Now())
			c.kick()
		}()
	}
}

// closeWith arranges for a close frame to follow the frames already
// queued; nothing more is accepted afterwards. It is idempotent: the first
// close wins.
func (c *Conn) closeWith(code int, reason, metricReason string) {
	if !c.closing.CompareAndSwap(nil, &closeInfo{code: code, reason: reason, frame: true}) {
		return
	}
	if metricReason != "" {
		c.hub.metrics.Disconnects.WithLabelValues(metricReason).Inc()
	}
	c.kick()
}

// sendData enqueues a market-data frame meant for this connection alone,
// compressed when the connection negotiated it and the frame is large
// enough.
func (c *Conn) sendData(frame []byte) bool {
	if c.deflate && len(frame) >= c.hub.cfg.CompressMinSize {
		if z := deflateFrame(frame); z != nil {
			return c.enqueue(z)
		}
	}
	return c.enqueue(frame)
}

// send enqueues a control-plane message.
func (c *Conn) send(m *schemas.ServerMessage) {
	c.enqueue(messageFrame(m))
}

// sendError replies with a protocol error and counts it.
func (c *Conn) sendError(id int64, code, msg, channel string) {
	c.hub.metrics.ClientErrors.WithLabelValues(code).Inc()
	c.send(&schemas.ServerMessage{Type: schemas.TypeError, ID: id, Code: code, Message: msg, Channel: channel})
}

// maxBatch is the most frames joined into one vectored write.
const maxBatch = 256

// writeScratch is a writer's batch; pooled, so that an idle connection
// holds none.
type writeScratch struct {
	frames [][]byte
	bufs   net.Buffers
}

var scratchPool = sync.Pool{New: func() any { return &writeScratch{frames: make([][]byte, 0, 16)} }}

// writeLoop is the writer: it drains the queue, every frame available at
// once in one vectored write, and exits when the queue is empty, unless the
// connection is closing, in which case it writes the close frame and ends
// the connection's writing for good (running stays set).
func (c *Conn) writeLoop() {
	w := scratchPool.Get().(*writeScratch)
	defer scratchPool.Put(w)
	for {
		if ci := c.closing.Load(); ci != nil && ci.drop {
			c.end(ci)
			return
		}
		n := 0
		for len(w.frames) < maxBatch {
			f := c.q.pop()
			if f == nil {
				break
			}
			if c.lagging.Load() {
				c.queued.Add(-int64(len(f))) // dropped: skipping ahead
				continue
			}
			w.frames = append(w.frames, f)
			n += len(f)
		}
		if len(w.frames) > 0 {
			err := c.writeBatch(w, n)
			c.queued.Add(-int64(n))
			clear(w.frames)
			w.frames = w.frames[:0]
			if err != nil {
				if c.closing.CompareAndSwap(nil, brokenInfo) {
					reason := "write_error"
					if errors.Is(err, os.ErrDeadlineExceeded) {
						reason = "slow_consumer" // queued frames outlived MaxQueueAge
					}
					c.hub.metrics.Disconnects.WithLabelValues(reason).Inc()
				}
				c.end(brokenInfo)
				return
			}
			continue
		}
		if ci := c.closing.Load(); ci != nil {
			c.end(ci)
			return
		}
		c.running.Store(false)
		if !c.q.ready() && c.closing.Load() == nil || !c.running.CompareAndSwap(false, true) {
			return
		}
	}
}

// deadlineSlack: a write sets the socket's write deadline (now plus the
// write budget) only if the deadline in force is more than 1/deadlineSlack
// of the budget short of that. Setting it updates the poller's timer, a
// noticeable cost per write; so a write gets at least 7/8 of the budget,
// and writes following one another closely set it once.
const deadlineSlack = 8

func (c *Conn) writeBatch(w *writeScratch, n int) error {
	budget := c.hub.writeBudget
	if d := time.Now().Add(budget); d.UnixNano()-c.wdeadline > int64(budget/deadlineSlack) {
		_ = c.nc.SetWriteDeadline(d)
		c.wdeadline = d.UnixNano()
	}
	if ci := c.closing.Load(); ci != nil && ci.drop {
		return nil // evicted meanwhile: the deadline above must not outlive the eviction's
	}
	frames := len(w.frames)
	var ts int64 = -1 // the batch's latency sample (WriteTo consumes the frames)
	for _, f := range w.frames[:min(frames, 4)] {
		if t, ok := dataTS(f); ok {
			ts = t
			break
		}
	}
	w.bufs = w.frames
	_, err := w.bufs.WriteTo(c.nc)
	w.bufs = nil
	if err == nil {
		m := c.hub.metrics
		m.MessagesSent.Add(float64(frames))
		m.BytesSent.Add(float64(n))
		m.WriteBatch.Observe(float64(frames))
		if ts >= 0 {
			m.DeliveryLatency.Observe(max(0, float64(time.Now().UnixMicro()-ts)/1e6))
		}
	}
	return err
}

// end finishes the writing side: a close frame if ci asks for one, or a
// torn-down socket if it failed.
func (c *Conn) end(ci *closeInfo) {
	if ci.frame {
		if ci.last != nil {
			_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.nc.Write(ci.last); err == nil {
				c.hub.metrics.MessagesSent.Inc()
				c.hub.metrics.BytesSent.Add(float64(len(ci.last)))
			}
		}
		c.finish(ci.code, ci.reason)
	} else {
		c.nc.Close() // ends the read loop too
	}
	close(c.wdone)
	c.wakeReader()
}

// finish writes the close frame, half-closes the socket so the client sees
// the close before EOF, and gives the read loop CloseLinger to see the
// client's close frame before the socket is torn down.
func (c *Conn) finish(code int, reason string) {
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.nc.Write(closeFrame(code, reason))
	if tc, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(c.hub.cfg.CloseLinger))
}

// readLoop reads client frames until the connection ends, then cleans up:
// for the whole life of a connection with a read goroutine, or for the end
// of a polled one (poll.go).
// It waits for data with a shallow stack (the frame is handled by
// readFrame, never inlined here), so that the garbage collector can shrink
// an idle connection's goroutine stack to its minimum.
func (c *Conn) readLoop(br *bufio.Reader) {
	defer c.cleanup(br)
	st := &c.rs
	for {
		c.setIdleDeadline()
		if _, err := br.Peek(1); err != nil {
			c.readFailed(err)
			return
		}
		if !c.readFrame(br, st) {
			return
		}
	}
}

// setIdleDeadline bounds the wait for the next frame, or the rest of one,
// by IdleTimeout; a closing connection keeps the deadline set by finish.
func (c *Conn) setIdleDeadline() {
	if !c.isClosing() {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.hub.cfg.IdleTimeout))
	}
}

// readState is what the reader keeps between frames.
type readState struct {
	payload    []byte
	message    []byte // a fragmented text message being assembled
	inFrag     bool
	compressed bool // the text message being read has RSV1 set
}

// readFrame reads and handles one client frame; false ends the loop. The
// frame is read and checked by the frame reader (reader.go); a violation
// closes the connection with its close code.
//
//go:noinline
func (c *Conn) readFrame(br *bufio.Reader, st *readState) bool {
	cfg := &c.hub.cfg
	h, err := readHeader(br)
	var f clientFrame
	if err == nil {
		c.lastRead.Store(c.hub.clock())
		if fe := checkHeader(h, st, c.deflate, cfg.MaxMessageSize); fe != nil {
			err = fe
		} else {
			f, err = st.readBody(br, h, cfg.MaxMessageSize)
		}
	}
	if err != nil {
		var fe *frameError
		if !errors.As(err, &fe) {
			c.readFailed(err)
			return false
		}
		c.peerClosed = f.op == ws.OpClose // an invalid close payload was read
		c.closeWith(fe.code, fe.reason, fe.metric)
		return false
	}

	switch f.op {
	case ws.OpPing:
		c.enqueue(controlFrame(ws.OpPong, f.msg))
	case ws.OpPong:
		// Liveness only: the read deadline moved forward above (lastRead,
		// under the poller).
	case ws.OpClose:
		c.closeWith(f.code, "", "client_close")
		c.peerClosed = true
		return false
	case ws.OpText:
		if c.isClosing() {
			return true
		}
		return c.handleText(f.msg)
	}
	return true
}

func (c *Conn) isClosing() bool { return c.closing.Load() != nil }

func (c *Conn) readFailed(err error) {
	if c.isClosing() {
		return
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.closeWith(schemas.CloseIdleTimeout, "idle timeout", "idle_timeout")
		return
	}
	c.peerClosed = true
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		c.hub.metrics.Disconnects.WithLabelValues("client_gone").Inc()
	} else {
		c.hub.metrics.Disconnects.WithLabelValues("read_error").Inc()
	}
	c.closing.CompareAndSwap(nil, brokenInfo)
	c.nc.Close()
}

// cleanup runs once the read loop has ended: subscriptions are removed from
// their topics, the writer finishes (its close frame last), unread client
// bytes are drained for at most CloseLinger so the close frame is not lost
// to a reset, and the socket is closed.
func (c *Conn) cleanup(br *bufio.Reader) {
	c.lagSubs.Store(nil)
	c.smu.Lock()
	for ch, s := range c.subs {
		s.gone.Store(true)
		s.topic.post(func() { s.topic.unsubscribe(c, s, 0, false) })
		delete(c.subs, ch)
		c.hub.metrics.Subscriptions.Dec()
	}
	if c.sess != nil {
		c.sess.End()
		c.sess = nil
	}
	c.smu.Unlock()
	c.closing.CompareAndSwap(nil, normalInfo)
	c.kick()
	c.stopLifetime()
	<-c.wdone // bounded: every write carries a deadline
	if !c.peerClosed {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.hub.cfg.CloseLinger))
		_, _ = io.Copy(io.Discard, br)
	}
	if c.pl != nil {
		c.pl.remove(c)
	}
	c.nc.Close()
	close(c.done)
	c.hub.removeConn(c)
}
