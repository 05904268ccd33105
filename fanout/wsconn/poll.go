package wsconn

import (
	"bufio"
	"io"
	"net"
	"sync"
)

// The reader role of a polled connection (see "Idle connections" in
// doc.go): at any time either one goroutine holds it (readerRunning) or the
// connection waits in the poller (readerArmed). Taking the role is a
// compare-and-swap from readerArmed to readerRunning, by the poller on a
// readiness event or by the writer when it ends the connection
// (wakeReader); the zero value, readerRunning, is held by the goroutine
// that serves the connection until it first arms it.
const (
	readerRunning int32 = iota
	readerArmed
)

// readBufSize is the size of the pooled readers of polled connections.
const readBufSize = 1024

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}

// preparePoll makes c a polled connection if the transport's poller is on and
// available and c is a plain TCP connection (a TLS record has no readiness
// of its own that the poller could see, so TLS connections keep a read
// goroutine). It runs before any goroutine of c starts.
func (t *Transport) preparePoll(c *Conn) {
	if t.cfg.DisablePoller {
		return
	}
	tc, ok := c.nc.(*net.TCPConn)
	if !ok {
		return
	}
	t.pollOnce.Do(func() {
		p, err := newPoller(t)
		if err != nil {
			t.cfg.Logger.Warn("wsconn: poller unavailable; every connection gets a read goroutine", "err", err)
			return
		}
		t.poller = p
	})
	if t.poller == nil {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	c.rc = rc
	if !t.poller.add(c) {
		c.rc = nil
		return
	}
	c.pl = t.poller
	c.lastRead.Store(t.clock())
}

// startReading starts reading c: bytes that came with the handshake are
// handled first, then c waits in the poller (or, without one, in a read
// goroutine of its own).
func (c *Conn) startReading() {
	pending := c.pending
	if c.pl == nil {
		var src io.Reader = c.nc
		if len(pending) > 0 {
			src = &prefixReader{pending: pending, conn: c.nc}
		}
		// A fresh goroutine, whose stack starts small, rather than the
		// HTTP server's.
		go c.readLoop(bufio.NewReaderSize(src, 512))
		return
	}
	if len(pending) == 0 && c.release() {
		return
	}
	go c.pollRead()
}

// pollRead runs while c holds the reader role: it reads and handles the
// frames available, with a pooled reader, and gives the role back to the
// poller once no byte is left, never in the middle of a frame (a frame
// once begun is read to its end, each read bounded by IdleTimeout). A
// connection that is closing, or cannot be armed, is read to its end with
// the blocking read loop instead.
func (c *Conn) pollRead() {
	br := readerPool.Get().(*bufio.Reader)
	var pr *prefixReader
	if len(c.pending) > 0 {
		pr = &prefixReader{pending: c.pending, conn: c.nc}
		c.pending = nil
		br.Reset(pr)
	} else {
		br.Reset(c.nc)
	}
	for !c.isClosing() {
		if !c.readOne(br) {
			c.cleanup(br)
			putReader(br)
			return
		}
		if br.Buffered() > 0 || pr != nil && len(pr.pending) > 0 {
			continue
		}
		// Nothing left: the reader, the payload and (between messages) the
		// message buffer go back, and c waits in the poller.
		putReader(br)
		c.rs.payload = nil
		if !c.rs.inFrag {
			c.rs.message = nil
		}
		if c.release() {
			return
		}
		br = readerPool.Get().(*bufio.Reader)
		br.Reset(c.nc)
		break
	}
	c.readLoop(br) // closing, or cannot be armed
	putReader(br)
}

// readOne reads and handles one frame; false means the connection ended.
func (c *Conn) readOne(br *bufio.Reader) bool {
	c.setIdleDeadline()
	if _, err := br.Peek(1); err != nil {
		c.readFailed(err)
		return false
	}
	return c.readFrame(br, &c.rs)
}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readerPool.Put(br)
}

// release gives the reader role back: c is armed in the poller, which
// starts a reader when c becomes readable. It reports false if the caller
// keeps the role: c is closing (its end must be read by a goroutine, not
// awaited in the poller), or could not be armed.
//
// The role is released (readerArmed) before the poller is armed, so that
// an event can always take it; and closing is checked after, so that a
// close that found the role taken (wakeReader) is seen here.
func (c *Conn) release() bool {
	c.rstate.Store(readerArmed)
	if err := c.pl.arm(c); err != nil {
		return !c.rstate.CompareAndSwap(readerArmed, readerRunning)
	}
	if c.isClosing() && c.rstate.CompareAndSwap(readerArmed, readerRunning) {
		return false
	}
	return true
}

// wakeReader gives a closing connection that waits in the poller a reader,
// which reads the client's close frame (or waits CloseLinger) and cleans
// up. The writer calls it once it has ended the connection.
func (c *Conn) wakeReader() {
	if c.pl != nil && c.rstate.CompareAndSwap(readerArmed, readerRunning) {
		go c.pollRead()
	}
}

// idleFor reports whether c is polled and has received no frame for d.
func (c *Conn) idleFor(now int64, d int64) bool {
	return c.pl != nil && now-c.lastRead.Load() > d
}
