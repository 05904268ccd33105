package fanout

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/schemas"
)

// Conn is one WebSocket client. Its read goroutine parses commands and owns
// subs; its write goroutine drains the outbound queue. Topic owners enqueue
// shared frames from their own goroutines; enqueue never blocks and never
// performs I/O.
type Conn struct {
	hub *Hub
	nc  net.Conn

	// Outbound queue, guarded by mu. Held only to append a frame or to swap
	// the queue out; never during I/O.
	mu        sync.Mutex
	queue     [][]byte
	spare     [][]byte
	queued    int  // bytes in queue
	closing   bool // no more data frames are accepted
	evicted   bool // pending frames were dropped; close as soon as possible
	closeCode int
	reason    string

	wake  chan struct{} // capacity 1: the queue has work
	wdone chan struct{} // closed when the write goroutine has ended
	done  chan struct{} // closed when the connection is finished

	// smu guards subs and sess: the read goroutine holds it while it
	// handles a command, Hub.Recheck while it re-checks the connection.
	smu  sync.Mutex
	subs map[string]*subscription
	sess Session // nil without an Authorizer

	// Read-goroutine state.
	invalid    int
	msgs       int // text messages handled
	rateTokens int
	rateAt     time.Time
	peerClosed bool // the client's close frame or EOF was read
}

func newConn(h *Hub, nc net.Conn) *Conn {
	return &Conn{
		hub:   h,
		nc:    nc,
		wake:  make(chan struct{}, 1),
		wdone: make(chan struct{}),
		done:  make(chan struct{}),
		subs:  make(map[string]*subscription),
	}
}

// enqueue adds a complete frame to the outbound queue. It returns false if
// the connection is closing; a frame that would exceed the queue budget
// evicts the connection as a slow consumer instead of waiting.
func (c *Conn) enqueue(frame []byte) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	if c.queued+len(frame) > c.hub.cfg.MaxQueueBytes {
		c.evictLocked(schemas.CloseSlowConsumer, "slow consumer: queue budget exceeded")
		c.mu.Unlock()
		c.hub.metrics.Disconnects.WithLabelValues("slow_consumer").Inc()
		return false
	}
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	c.mu.Unlock()
	c.signal()
	return true
}

func (c *Conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// evictLocked drops everything queued and arranges for a close frame to be
// the next and last thing written. A write in progress is cut short.
func (c *Conn) evictLocked(code int, reason string) {
	c.closing, c.evicted = true, true
	clear(c.queue)
	c.queue = c.queue[:0]
	c.queued = 0
	c.closeCode, c.reason = code, reason
	_ = c.nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	c.signal()
}

// closeWith queues a close frame behind the frames already queued; nothing
// more is accepted afterwards. It is idempotent.
func (c *Conn) closeWith(code int, reason, metricReason string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.closeCode, c.reason = code, reason
	c.mu.Unlock()
	if metricReason != "" {
		c.hub.metrics.Disconnects.WithLabelValues(metricReason).Inc()
	}
	c.signal()
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

// writeLoop drains the queue: every frame pending at wake-up goes out in one
// vectored write. It also sends pings and, last, the close frame.
func (c *Conn) writeLoop() {
	defer close(c.wdone)
	ping := time.NewTicker(c.hub.cfg.PingInterval)
	defer ping.Stop()
	pingFrame := controlFrame(ws.OpPing, nil)
	for {
		select {
		case <-c.wake:
		case <-ping.C:
			c.enqueue(pingFrame)
			continue
		}
		c.mu.Lock()
		batch := c.queue
		c.queue = c.spare[:0]
		c.queued = 0
		closing, evicted := c.closing, c.evicted
		code, reason := c.closeCode, c.reason
		c.mu.Unlock()

		var err error
		if len(batch) > 0 && !evicted {
			err = c.writeBatch(batch)
		}
		clear(batch)
		c.spare = batch[:0]
		if err != nil {
			c.mu.Lock()
			wasClosing := c.closing
			c.closing, c.evicted = true, true
			c.mu.Unlock()
			if !wasClosing {
				c.hub.metrics.Disconnects.WithLabelValues("write_error").Inc()
			}
			c.nc.Close() // ends the read loop too
			return
		}
		if closing {
			c.finish(code, reason)
			return
		}
	}
}

func (c *Conn) writeBatch(batch [][]byte) error {
	n := 0
	for _, f := range batch {
		n += len(f)
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.hub.cfg.WriteTimeout))
	bufs := net.Buffers(batch)
	_, err := bufs.WriteTo(c.nc)
	if err == nil {
		c.hub.metrics.MessagesSent.Add(float64(len(batch)))
		c.hub.metrics.BytesSent.Add(float64(n))
	}
	return err
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

// readLoop reads client frames until the connection ends, then cleans up.
func (c *Conn) readLoop(br *bufio.Reader) {
	defer c.cleanup(br)
	cfg := &c.hub.cfg
	var (
		payload []byte
		message []byte // a fragmented text message being assembled
		inFrag  bool
	)
	for {
		if !c.isClosing() {
			_ = c.nc.SetReadDeadline(time.Now().Add(cfg.IdleTimeout))
		}
		h, err := ws.ReadHeader(br)
		if err != nil {
			c.readFailed(err)
			return
		}
		if !h.Masked {
			c.closeWith(schemas.CloseProtocolError, "client frames must be masked", "protocol_error")
			return
		}
		if h.Length > int64(cfg.MaxMessageSize) || (inFrag && int64(len(message))+h.Length > int64(cfg.MaxMessageSize)) {
			c.closeWith(schemas.CloseMessageTooBig, "message too big", "message_too_big")
			return
		}
		if cap(payload) < int(h.Length) {
			payload = make([]byte, h.Length)
		}
		payload = payload[:h.Length]
		if _, err := io.ReadFull(br, payload); err != nil {
			c.readFailed(err)
			return
		}
		ws.Cipher(payload, h.Mask, 0)

		switch h.OpCode {
		case ws.OpPing:
			c.enqueue(controlFrame(ws.OpPong, payload))
		case ws.OpPong:
			// Liveness only: the read deadline moved forward above.
		case ws.OpClose:
			if !c.isClosing() {
				code, _ := ws.ParseCloseFrameData(payload)
				if code == 0 {
					code = ws.StatusNormalClosure
				}
				c.closeWith(int(code), "", "client_close")
			}
			c.peerClosed = true
			return
		case ws.OpBinary:
			c.closeWith(schemas.CloseUnsupportedData, "binary frames are not supported", "protocol_error")
			return
		case ws.OpText, ws.OpContinuation:
			if h.OpCode == ws.OpText && inFrag || h.OpCode == ws.OpContinuation && !inFrag {
				c.closeWith(schemas.CloseProtocolError, "bad fragmentation", "protocol_error")
				return
			}
			if !h.Fin {
				message = append(message, payload...)
				inFrag = true
				continue
			}
			msg := payload
			if inFrag {
				message = append(message, payload...)
				msg, inFrag = message, false
			}
			if c.isClosing() {
				continue
			}
			if !c.handleText(msg) {
				return
			}
			message = message[:0]
		default:
			c.closeWith(schemas.CloseProtocolError, "reserved opcode", "protocol_error")
			return
		}
	}
}

func (c *Conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
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
	c.mu.Lock()
	c.closing, c.evicted = true, true
	c.mu.Unlock()
	c.nc.Close()
}

// cleanup runs once the read loop has ended: subscriptions are removed from
// their topics, the writer finishes (its close frame last), unread client
// bytes are drained for at most CloseLinger so the close frame is not lost
// to a reset, and the socket is closed.
func (c *Conn) cleanup(br *bufio.Reader) {
	c.smu.Lock()
	for ch, s := range c.subs {
		s.topic.post(func() { s.topic.unsubscribe(c, s, 0, false) })
		delete(c.subs, ch)
		c.hub.metrics.Subscriptions.Dec()
	}
	if c.sess != nil {
		c.sess.End()
		c.sess = nil
	}
	c.smu.Unlock()
	c.mu.Lock()
	if !c.closing {
		c.closing = true
		c.closeCode, c.reason = schemas.CloseNormal, ""
	}
	c.mu.Unlock()
	c.signal()
	<-c.wdone // bounded: every write carries a deadline
	if !c.peerClosed {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.hub.cfg.CloseLinger))
		_, _ = io.Copy(io.Discard, br)
	}
	c.nc.Close()
	close(c.done)
	c.hub.removeConn(c)
}
