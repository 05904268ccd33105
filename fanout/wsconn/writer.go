package wsconn

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

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
	kinds  []Kind
	iov    [][]byte    // backing array of the buffers of one write
	bufs   net.Buffers // the same, consumed by the write
	flat   []byte      // the batch copied into one buffer, for a socket without writev
}

var scratchPool = sync.Pool{New: func() any { return &writeScratch{frames: make([][]byte, 0, 16)} }}

// errAborted ends a write whose connection is closing: the frame being
// written was completed (the socket is at a frame boundary), the rest of
// the batch dropped.
var errAborted = errors.New("wsconn: write aborted at a frame boundary")

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
	c.drainAt = c.t.clock()
	for {
		if ci := c.dropping(); ci != nil {
			c.end(ci)
			return
		}
		start := c.t.clock()
		c.since = c.drainAt
		if c.queued.Load() > 0 && c.checkAge(start) {
			continue // evicted
		}
		ts := int64(-1)
		if c.sample.Load() >= 0 {
			// Taken before the batch is popped: its frame was queued
			// before, so it is in this batch (or, past maxBatch, soon
			// after).
			ts = c.sample.Swap(-1)
		}
		n, drained := c.fill(w)
		if drained {
			c.drainAt = start // since stays: it bounds the batch popped
		}
		if len(w.frames) > 0 {
			err := c.writeBatch(w, n, start, ts)
			clear(w.frames)
			w.frames, w.kinds = w.frames[:0], w.kinds[:0]
			if err == errAborted {
				c.end(c.closing.Load())
				return
			}
			if err != nil {
				if c.closing.CompareAndSwap(nil, brokenInfo) {
					c.t.metrics.Disconnects.WithLabelValues("write_error").Inc()
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

// checkAge applies the age budget at time now (transport clock), the oldest
// unsent frame being at most now - since old; it reports whether the
// connection was evicted. Past MaxQueueAge/2 a connection with
// subscriptions that conflate skips ahead; past MaxQueueAge it is
// evicted, unless a skip-ahead is under way. A skip-ahead leaves only
// frames queued after it began (passFence), so what is late after it is
// what is never dropped.
func (c *Conn) checkAge(now int64) bool {
	age, limit := now-c.since, int64(c.t.cfg.MaxQueueAge)
	switch {
	case age <= limit/2:
		return false
	case c.h.Conflates():
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
		case kind == State && c.lagging.Load():
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

// writeBatch writes w's frames, n bytes, popped at start; ts is the
// batch's latency sample (SendAt), -1 if none. A write that runs out of its
// slice continues where it stopped, unless the connection is closing (the
// frame begun is completed, errAborted), or the client took nothing for
// WriteTimeout or is too late (checkAge) (evicted, errAborted); a
// skip-ahead started meanwhile drops the batch's state frames not yet
// begun.
//
// Its frame is kept small, the rare paths being functions of their own
// (armDeadline, stalled, batchDone): a writer goroutine starts with a
// small stack, and one that outgrows it before the system call pays a
// stack copy at every start.
func (c *Conn) writeBatch(w *writeScratch, n int, start, ts int64) error {
	defer c.queued.Add(-int64(n))
	p := batchProgress{at: start}
	defer c.batchDone(&p, len(w.frames), ts)
	for p.i < len(w.frames) {
		if ci := c.dropping(); ci != nil {
			return c.abort(w, p.i, p.off)
		}
		if !c.armDeadline() {
			return c.abort(w, p.i, p.off) // evicted meanwhile: its deadline must not be outlived
		}
		var k int64
		var err error
		if !c.coalesce {
			// A vectored write (writev), here rather than in a function
			// of its own, for the stack depth (see above).
			w.iov = append(w.iov[:0], w.frames[p.i][p.off:])
			w.iov = append(w.iov, w.frames[p.i+1:]...)
			w.bufs = w.iov // WriteTo consumes w.bufs, not w.iov
			k, err = w.bufs.WriteTo(c.nc)
			w.bufs = nil
			clear(w.iov)
		} else {
			k, err = c.writeFlat(w, p.i, p.off)
		}
		p.advance(w, k)
		if err == nil {
			break
		}
		if err := c.stalled(w, &p, k, err); err != nil {
			return err
		}
	}
	p.ok = true
	return nil
}

// batchProgress is where writeBatch stands: the next unwritten byte is
// frames[i][off]; written bytes and sent frames so far; at is the transport
// clock of the last write that took bytes; ok once the whole batch is
// written.
type batchProgress struct {
	i, off        int
	written, sent int
	at            int64
	ok            bool
}

// advance accounts for k more bytes written.
func (p *batchProgress) advance(w *writeScratch, k int64) {
	p.written += int(k)
	for k > 0 {
		if rest := int64(len(w.frames[p.i]) - p.off); k >= rest {
			k -= rest
			p.i, p.off = p.i+1, 0
			p.sent++
		} else {
			p.off += int(k)
			k = 0
		}
	}
}

// armDeadline moves the socket's write deadline to a slice of the write
// budget from now, unless the one in force is close enough (deadlineSlack);
// it reports false when the connection is dropping meanwhile.
func (c *Conn) armDeadline() bool {
	slice := c.t.writeBudget / writeSlices
	if d := time.Now().Add(slice); d.UnixNano()-c.wdeadline > int64(slice/deadlineSlack) {
		_ = c.nc.SetWriteDeadline(d)
		c.wdeadline = d.UnixNano()
	}
	return c.dropping() == nil
}

// stalled handles a write that ended with err after taking k bytes: nil to
// go on (the slice ran out), else the error that ends the batch (the
// socket failed, or the connection was evicted or is too late: errAborted
// at a frame boundary).
func (c *Conn) stalled(w *writeScratch, p *batchProgress, k int64, err error) error {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	c.wdeadline = 0 // the deadline in force has passed
	now := c.t.clock()
	if k > 0 {
		p.at = now
	}
	if now-p.at >= int64(c.t.cfg.WriteTimeout) {
		c.markEvicted() // the client took nothing for WriteTimeout
		return c.abort(w, p.i, p.off)
	}
	if c.checkAge(now) {
		return c.abort(w, p.i, p.off)
	}
	if c.lagging.Load() {
		c.dropState(w, p.i, p.off)
	}
	return nil
}

// batchDone counts what a batch of frames frames sent, and, for a batch
// written whole, its size and latency sample ts (-1: none).
func (c *Conn) batchDone(p *batchProgress, frames int, ts int64) {
	m := c.t.metrics
	m.MessagesSent.Add(float64(p.sent))
	m.BytesSent.Add(float64(p.written))
	if !p.ok {
		return
	}
	m.WriteBatch.Observe(float64(frames))
	if ts >= 0 {
		m.DeliveryLatency.Observe(max(0, float64(time.Now().UnixMicro()-ts)/1e6))
	}
}

// maxFlat is the largest coalescing buffer a pooled batch keeps.
const maxFlat = 1 << 20

// writeFlat writes the batch from byte off of frame i on to a
// connection that takes no vectored write (TLS): the frames are copied
// into one buffer and written at once, so that a batch becomes one TLS
// record (up to 16 KiB) and one write, not one record and one write per
// frame.
func (c *Conn) writeFlat(w *writeScratch, i, off int) (int64, error) {
	w.flat = append(w.flat[:0], w.frames[i][off:]...)
	for _, f := range w.frames[i+1:] {
		w.flat = append(w.flat, f...)
	}
	k, err := c.nc.Write(w.flat)
	if cap(w.flat) > maxFlat {
		w.flat = nil // a burst's buffer is not kept for ever
	}
	return int64(k), err
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
		if w.kinds[j] != State {
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
	end := time.Now().Add(c.t.cfg.CloseLinger)
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
			c.t.metrics.MessagesSent.Inc()
			c.t.metrics.BytesSent.Add(float64(len(ci.last)))
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
	if c.writeLinger(CloseFrame(code, reason)) != nil {
		c.nc.Close()
		return
	}
	if tc, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(c.t.cfg.CloseLinger))
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
		end := time.Now().Add(c.t.cfg.WriteTimeout)
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
