package wsconn

import (
	"bufio"
	"errors"
	"io"
	"os"
	"time"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/schemas"
)

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
		_ = c.nc.SetReadDeadline(time.Now().Add(c.t.cfg.IdleTimeout))
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
	cfg := &c.t.cfg
	h, err := readHeader(br)
	var f clientFrame
	if err == nil {
		c.lastRead.Store(c.t.clock())
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
		c.CloseWith(fe.code, fe.reason, fe.metric)
		return false
	}

	switch f.op {
	case ws.OpPing:
		c.Send(ControlFrame(ws.OpPong, f.msg), Keep)
	case ws.OpPong:
		// Liveness only: the read deadline moved forward above (lastRead,
		// under the poller).
	case ws.OpClose:
		c.CloseWith(f.code, "", "client_close")
		c.peerClosed = true
		return false
	case ws.OpText:
		if c.isClosing() {
			return true
		}
		return c.h.HandleText(f.msg)
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
		c.CloseWith(schemas.CloseIdleTimeout, "idle timeout", "idle_timeout")
		return
	}
	c.peerClosed = true
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		c.t.metrics.Disconnects.WithLabelValues("client_gone").Inc()
	} else {
		c.t.metrics.Disconnects.WithLabelValues("read_error").Inc()
	}
	c.closing.CompareAndSwap(nil, brokenInfo)
	c.nc.Close()
}

// cleanup runs once the read loop has ended: the handler stops sending
// (Handler.Ending), the writer finishes (its close frame last), unread
// client bytes are drained for at most CloseLinger so the close frame is
// not lost to a reset, and the socket is closed once the client has taken
// everything (closeSocket).
func (c *Conn) cleanup(br *bufio.Reader) {
	c.h.Ending()
	c.closing.CompareAndSwap(nil, normalInfo)
	c.kick()
	c.stopLifetime()
	<-c.wdone // bounded: every write carries a deadline
	if !c.peerClosed {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.t.cfg.CloseLinger))
		_, _ = io.Copy(io.Discard, br)
	}
	if c.pl != nil {
		c.pl.remove(c)
	}
	c.closeSocket()
	close(c.done)
	c.t.remove(c)
	c.h.Ended()
}
