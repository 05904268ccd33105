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
	queued  atomic.Int64                    // bytes pushed and not yet written
	running atomic.Bool                     // a writer goroutine is active (or has finished for good)
	closing atomic.Pointer[closeInfo]       // set once: how the connection ends
	lagging atomic.Bool                     // dropping frames while skipping ahead (lag.go)
	hurry   atomic.Bool                     // a closing connection drops what is queued (Shutdown running out of time)
	lagSubs atomic.Pointer[[]*subscription] // subscriptions that conflate on lag, nil if none
	fence   atomic.Pointer[chan struct{}]   // closed by the writer at a skip-ahead's fence

	since    int64        // writer only: every unsent frame was queued after it (hub clock)
	drainAt  int64        // writer only: when the queue was last found empty (hub clock)
	lagAt    atomic.Int64 // when the skip-ahead under way began (hub clock)
	pingSlot uint32       // the pinger's slot of this connection (ping.go)

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
	c.q.init(h.cfg.QueueFrames, max(h.cfg.QueueFrames, h.cfg.MaxQueueBytes/16))
	c.pingSlot = pingSlot(h.connSeq.Add(1))
	if n := h.cfg.SocketSendBuffer; n > 0 {
		if tc, ok := nc.(interface{ SetWriteBuffer(int) error }); ok {
			_ = tc.SetWriteBuffer(n)
		}
	}
	if n := h.cfg.SocketNotSentLowat; n > 0 {
		setNotSentLowat(nc, n)
	}
	return c
}

// enqueue adds a control-plane frame (or a trade, or any frame that is
// never dropped) to the outbound queue; see enqueueKind.
func (c *Conn) enqueue(frame []byte) bool { return c.enqueueKind(frame, kindKeep) }

// enqueueKind adds a complete frame of the given kind to the outbound
// queue and makes sure a writer runs. It returns false, dropping the
// frame, if the connection is closing, or if the frame is a state frame
// and the connection is skipping ahead (lag.go) or would pass half its
// byte budget, which starts a skip-ahead. Any other frame that would pass
// MaxQueueBytes evicts the connection as a slow consumer. Safe from any
// goroutine; lock-free while the ring has room; never blocks.
func (c *Conn) enqueueKind(frame []byte, kind uint8) bool {
	if c.closing.Load() != nil || kind == kindState && c.lagging.Load() {
		return false
	}
	n := int64(len(frame))
	limit := int64(c.hub.cfg.MaxQueueBytes)
	if kind == kindState {
		limit /= 2 // the other half is kept for what is never dropped
	}
	// A frame larger than the budget still goes to an empty queue: it
	// could never be sent otherwise.
	if q := c.queued.Add(n); q > limit && q != n || !c.q.push(frame, kind) {
		c.queued.Add(-n)
		if kind == kindState {
			c.startLag()
		} else {
			c.evict()
		}
		return false
	}
	c.kick()
	return true
}

// stateKind is the kind of a book or ticker frame for a subscription that
// conflates on lag (lag) or not.
func stateKind(lag bool) uint8 {
	if lag {
		return kindState
	}
	return kindKeep
}

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
	c.hub.metrics.Disconnects.WithLabelValues("slow_consumer").Inc()
	return true
}

// evict marks the connection as a slow consumer; a goroutine of its own
// cuts short any write in progress (the writer then completes the frame it
// was writing and sends the close frame, see abort), so that the caller (a
// topic owner) returns at once.
func (c *Conn) evict() {
	if c.markEvicted() {
		go func() {
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

// sendData enqueues a market-data frame of the given kind meant for this
// connection alone, compressed when the connection negotiated it and the
// frame is large enough.
func (c *Conn) sendData(frame []byte, kind uint8) bool {
	if c.deflate && len(frame) >= c.hub.cfg.CompressMinSize {
		if z := deflateFrame(frame); z != nil {
			return c.enqueueKind(z, kind)
		}
	}
	return c.enqueueKind(frame, kind)
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

// maxBatch is the most frames joined into one vectored write, and
// maxBatchBytes about the most bytes: a write to a slow reader then ends
// soon enough for the writer to look at the connection's lateness between
// writes.
const (
	maxBatch      = 256
	maxBatchBytes = 256 << 10
)

// writeScratch is a writer's batch; pooled, so that an idle connection
// holds none.
type writeScratch struct {
	frames [][]byte
	kinds  []uint8
	iov    [][]byte    // backing array of the buffers of one write
	bufs   net.Buffers // the same, consumed by the write
}

var scratchPool = sync.Pool{New: func() any { return &writeScratch{frames: make([][]byte, 0, 16)} }}

// errAborted ends a write whose connection is closing: the frame being
// written was completed (the socket is at a frame boundary), the rest of
// the batch dropped.
var errAborted = errors.New("fanout: write aborted at a frame boundary")

// writeLoop is the writer: it drains the queue, the frames available at
// once in one vectored write, and exits when the queue is empty, unless the
// connection is closing, in which case it writes the close frame and ends
// the connection's writing for good (running stays set).
//
// Lateness: drainAt is when the writer last found the queue empty (or
// started), so every frame still queued was queued after it; the frames of
// the batch being written were queued after the drainAt before their pop.
// since is that bound for everything unsent, and the oldest unsent frame
// is at most now - since old (checkAge).
func (c *Conn) writeLoop() {
	w := scratchPool.Get().(*writeScratch)
	defer scratchPool.Put(w)
	c.drainAt = c.hub.clock()
	for {
		if ci := c.dropping(); ci != nil {
			c.end(ci)
			return
		}
		start := c.hub.clock()
		c.since = c.drainAt
		if c.queued.Load() > 0 && c.checkAge(start) {
			continue // evicted
		}
		n, drained := c.fill(w)
		if drained {
			c.drainAt = start // since stays: it bounds the batch popped
		}
		if len(w.frames) > 0 {
			err := c.writeBatch(w, n, start)
			clear(w.frames)
			w.frames, w.kinds = w.frames[:0], w.kinds[:0]
			if err == errAborted {
				c.end(c.closing.Load())
				return
			}
			if err != nil {
				if c.closing.CompareAndSwap(nil, brokenInfo) {
					c.hub.metrics.Disconnects.WithLabelValues("write_error").Inc()
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

// checkAge applies the age budget at time now (hub clock), the oldest
// unsent frame being at most now - since old; it reports whether the
// connection was evicted. Past MaxQueueAge/2 a connection with
// subscriptions that conflate skips ahead; past MaxQueueAge it is
// evicted, unless a skip-ahead is under way. A skip-ahead leaves only
// frames queued after it began (passFence), so what is late after it is
// what is never dropped.
func (c *Conn) checkAge(now int64) bool {
	age, limit := now-c.since, int64(c.hub.cfg.MaxQueueAge)
	switch {
	case age <= limit/2:
		return false
	case c.lagSubs.Load() != nil:
		c.startLag()
		if age <= limit || c.lagging.Load() {
			return false
		}
	case age <= limit:
		return false
	}
	return c.markEvicted()
}

// fill pops the next batch into w: every published frame, up to maxBatch
// frames or about maxBatchBytes. State frames are dropped while the
// connection skips ahead, and a fence tells the skip-ahead that all frames
// before it are gone. It returns the batch's bytes and whether the queue
// was found empty.
func (c *Conn) fill(w *writeScratch) (n int, drained bool) {
	for len(w.frames) < maxBatch && n < maxBatchBytes {
		f, kind := c.q.pop()
		if f == nil {
			return n, true
		}
		switch {
		case kind == kindFence:
			c.queued.Add(-int64(len(f)))
			// Every frame still queued was queued after the fence, hence
			// after the skip-ahead began.
			c.drainAt = max(c.drainAt, c.lagAt.Load())
			c.passFence()
			continue
		case kind == kindState && c.lagging.Load():
			c.queued.Add(-int64(len(f))) // dropped: skipping ahead
			continue
		}
		w.frames = append(w.frames, f)
		w.kinds = append(w.kinds, kind)
		n += len(f)
	}
	return n, false
}

// deadlineSlack: a write sets the socket's write deadline (now plus a
// slice of the write budget) only if the deadline in force is more than
// 1/deadlineSlack of the slice short of that. Setting it updates the
// poller's timer, a noticeable cost per write; so a write gets at least
// 7/8 of the slice, and writes following one another closely set it once.
const deadlineSlack = 8

// writeSlices: a write is given writeBudget/writeSlices at a time; when a
// slice ends with the batch unwritten, the writer looks at the connection
// (closing, lateness, progress) before going on.
const writeSlices = 4

// writeBatch writes w's frames, n bytes, popped at start. A write that runs out of its
// slice continues where it stopped, unless the connection is closing (the
// frame begun is completed, errAborted), or the client took nothing for
// WriteTimeout or is too late (checkAge) (evicted, errAborted); a
// skip-ahead started meanwhile drops the batch's state frames not yet
// begun.
func (c *Conn) writeBatch(w *writeScratch, n int, start int64) error {
	defer c.queued.Add(-int64(n))
	frames := len(w.frames)
	var ts int64 = -1 // the batch's latency sample
	for _, f := range w.frames[:min(frames, 4)] {
		if t, ok := dataTS(f); ok {
			ts = t
			break
		}
	}
	slice := c.hub.writeBudget / writeSlices
	progress := start // hub clock of the last write that took bytes
	i, off := 0, 0    // the next unwritten byte is w.frames[i][off]
	written, sent := 0, 0
	m := c.hub.metrics
	defer func() {
		m.MessagesSent.Add(float64(sent))
		m.BytesSent.Add(float64(written))
	}()
	for i < len(w.frames) {
		if ci := c.dropping(); ci != nil {
			return c.abort(w, i, off)
		}
		if d := time.Now().Add(slice); d.UnixNano()-c.wdeadline > int64(slice/deadlineSlack) {
			_ = c.nc.SetWriteDeadline(d)
			c.wdeadline = d.UnixNano()
		}
		if ci := c.dropping(); ci != nil {
			return c.abort(w, i, off) // evicted meanwhile: its deadline must not be outlived
		}
		w.iov = append(w.iov[:0], w.frames[i][off:])
		w.iov = append(w.iov, w.frames[i+1:]...)
		w.bufs = w.iov // WriteTo consumes w.bufs, not w.iov
		k, err := w.bufs.WriteTo(c.nc)
		w.bufs = nil
		clear(w.iov)
		got := int(k)
		written += got
		for k > 0 {
			if rest := int64(len(w.frames[i]) - off); k >= rest {
				k -= rest
				i, off = i+1, 0
				sent++
			} else {
				off += int(k)
				k = 0
			}
		}
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		c.wdeadline = 0 // the deadline in force has passed
		now := c.hub.clock()
		if got > 0 {
			progress = now
		}
		if now-progress >= int64(c.hub.cfg.WriteTimeout) {
			c.markEvicted() // the client took nothing for WriteTimeout
			return c.abort(w, i, off)
		}
		if c.checkAge(now) {
			return c.abort(w, i, off)
		}
		if c.lagging.Load() {
			c.dropState(w, i, off)
		}
	}
	m.WriteBatch.Observe(float64(frames))
	if ts >= 0 {
		m.DeliveryLatency.Observe(max(0, float64(time.Now().UnixMicro()-ts)/1e6))
	}
	return nil
}

// dropState removes from w the state frames not yet begun: those after
// frame i, and frame i itself unless its first off bytes are written.
func (c *Conn) dropState(w *writeScratch, i, off int) {
	j := i
	if off > 0 {
		j++
	}
	k := j
	for ; j < len(w.frames); j++ {
		if w.kinds[j] != kindState {
			w.frames[k], w.kinds[k] = w.frames[j], w.kinds[j]
			k++
		}
	}
	clear(w.frames[k:])
	w.frames, w.kinds = w.frames[:k], w.kinds[:k]
}

// abort ends a write for a closing connection at a frame boundary: the
// frame begun (frame i, of which off bytes are written) is completed
// within CloseLinger, so that the close frame can follow, and the rest of
// the batch is dropped. It returns errAborted, or the error of a socket
// that accepted nothing more within the linger, which is then torn down.
func (c *Conn) abort(w *writeScratch, i, off int) error {
	if off == 0 {
		return errAborted
	}
	roomToClose(c.nc, len(w.frames[i])-off+maxCloseFrame)
	if err := c.writeLinger(w.frames[i][off:]); err != nil {
		return err
	}
	return errAborted
}

// maxCloseFrame is the largest close frame: a 2-byte header and 125
// bytes of payload.
const maxCloseFrame = 127

// writeLinger writes b whole, giving the client CloseLinger to take it. An
// eviction's own deadline (now) may land after the one set here: the write
// goes on until the linger is over.
func (c *Conn) writeLinger(b []byte) error {
	end := time.Now().Add(c.hub.cfg.CloseLinger)
	c.wdeadline = end.UnixNano()
	for {
		_ = c.nc.SetWriteDeadline(end)
		k, err := c.nc.Write(b)
		b = b[k:]
		if err == nil || len(b) == 0 {
			return nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) || !time.Now().Before(end) {
			return err
		}
	}
}

// end finishes the writing side: a close frame if ci asks for one, or a
// torn-down socket if it failed. Every write here is whole or the socket
// is torn down, so a close frame never starts in the middle of a frame.
func (c *Conn) end(ci *closeInfo) {
	ok := ci.frame
	if ok {
		roomToClose(c.nc, len(ci.last)+maxCloseFrame)
	}
	if ok && ci.last != nil {
		if ok = c.writeLinger(ci.last) == nil; ok {
			c.hub.metrics.MessagesSent.Inc()
			c.hub.metrics.BytesSent.Add(float64(len(ci.last)))
		}
	}
	if ok {
		c.finish(ci.code, ci.reason)
	} else {
		c.nc.Close() // ends the read loop too
	}
	close(c.wdone)
	c.wakeReader()
}

// finish writes the close frame (the client gets CloseLinger to take it),
// half-closes the socket so the client sees the close before EOF, and
// gives the read loop CloseLinger to see the client's close frame before
// the connection ends (the socket itself is closed once the client has
// taken everything, see closeSocket).
func (c *Conn) finish(code int, reason string) {
	if c.writeLinger(closeFrame(code, reason)) != nil {
		c.nc.Close()
		return
	}
	if tc, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(c.hub.cfg.CloseLinger))
}

// deliveryStep is how often closeSocket looks at the socket: the final
// close may be that late, and a lingering socket costs a wake-up each.
const deliveryStep = 50 * time.Millisecond

// closeSocket closes the socket of a finished connection once the client
// has taken what the kernel still holds for it: a slow reader's backlog,
// then the close frame and the FIN. Closing it earlier would not lose that
// data by itself, but the kernel answers any byte the client sends to a
// closed socket (a pong to a ping it has just read) with a reset, which
// throws away the rest of the stream, close frame included: the client
// would see its connection end inside a frame. So, while the client has
// bytes unacknowledged, a goroutine of its own keeps the socket, reading
// and discarding what the client sends, until everything is acknowledged
// or the connection is gone, and for WriteTimeout at most (the time a
// client may take nothing before it is thought stalled; the socket is then
// cut). The connection itself is finished already: it holds no slot, no
// subscription and no poller registration meanwhile.
func (c *Conn) closeSocket() {
	if n, ok := unsentBytes(c.nc); !ok || n == 0 {
		c.nc.Close()
		return
	}
	go func() {
		defer c.nc.Close()
		end := time.Now().Add(c.hub.cfg.WriteTimeout)
		var buf [512]byte
		for time.Now().Before(end) {
			_ = c.nc.SetReadDeadline(time.Now().Add(deliveryStep))
			for {
				if _, err := c.nc.Read(buf[:]); err != nil {
					if !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, io.EOF) {
						return // reset: nothing more can be delivered
					}
					if errors.Is(err, io.EOF) {
						time.Sleep(deliveryStep)
					}
					break
				}
			}
			if n, ok := unsentBytes(c.nc); !ok || n == 0 {
				return
			}
		}
	}()
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

// dropping returns how the connection ends if it is closing and what is
// queued is to be dropped (an eviction, a failed socket, or a close
// hurried by Shutdown), nil otherwise.
func (c *Conn) dropping() *closeInfo {
	if ci := c.closing.Load(); ci != nil && (ci.drop || c.hurry.Load()) {
		return ci
	}
	return nil
}

// hurryClose makes a closing connection drop what is still queued: the
// frame being written is completed, then the close frame follows (abort).
func (c *Conn) hurryClose() {
	if c.closing.Load() != nil && c.hurry.CompareAndSwap(false, true) {
		_ = c.nc.SetWriteDeadline(time.Now()) // cuts a write in progress short
		c.kick()
	}
}

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
	c.closeSocket()
	close(c.done)
	c.hub.removeConn(c)
}
