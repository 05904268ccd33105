package client

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// readLoop reads frames until the connection ends, answering pings and
// handing complete messages (text, and binary on a connection of the
// binary subprotocol) to NextFrame.
func (c *Conn) readLoop(r *bufio.Reader) {
	err := c.readFrames(r)
	select {
	case <-c.quit:
		var ce *CloseError
		if !errors.As(err, &ce) {
			err = ErrClosed
		}
	default:
	}
	c.err = err
	c.nc.Close()
	close(c.done)
}

func (c *Conn) readFrames(r *bufio.Reader) error {
	hdr := make([]byte, 2, ws.MaxHeaderSize-2)
	var msg []byte
	fragmented, binary := false, false
	for {
		if d := c.idle.Load(); d > 0 {
			c.nc.SetReadDeadline(time.Now().Add(time.Duration(d)))
		}
		h, err := ws.ReadHeaderBuffer(r, hdr)
		if err != nil {
			return fmt.Errorf("client: reading frame: %w", err)
		}
		if h.Rsv != 0 || h.Masked {
			return c.fail(ws.StatusProtocolError, ErrProtocol, "unexpected reserved bits or masked frame")
		}
		if h.OpCode.IsControl() {
			if !h.Fin || h.Length > ws.MaxControlFramePayloadSize {
				return c.fail(ws.StatusProtocolError, ErrProtocol, "fragmented or oversized control frame")
			}
			p := make([]byte, h.Length)
			if _, err := io.ReadFull(r, p); err != nil {
				return fmt.Errorf("client: reading frame: %w", err)
			}
			switch h.OpCode {
			case ws.OpPing:
				if err := c.writeFrame(ws.OpPong, p); err != nil {
					return err
				}
			case ws.OpClose:
				return c.onClose(p)
			}
			continue
		}
		switch h.OpCode {
		case ws.OpText:
			if fragmented {
				return c.fail(ws.StatusProtocolError, ErrProtocol, "new message inside a fragmented one")
			}
			binary = false
		case ws.OpContinuation:
			if !fragmented {
				return c.fail(ws.StatusProtocolError, ErrProtocol, "continuation without a message")
			}
		case ws.OpBinary:
			if !c.binary {
				return c.fail(ws.StatusUnsupportedData, ErrBinaryMessage, "text frames only")
			}
			if fragmented {
				return c.fail(ws.StatusProtocolError, ErrProtocol, "new message inside a fragmented one")
			}
			binary = true
		default:
			return c.fail(ws.StatusProtocolError, ErrProtocol, "reserved opcode")
		}
		if h.Length > c.opt.MaxMessageSize-int64(len(msg)) {
			return c.fail(ws.StatusMessageTooBig, ErrMessageTooLarge, fmt.Sprintf("over %d bytes", c.opt.MaxMessageSize))
		}
		n := len(msg)
		msg = slices.Grow(msg, int(h.Length))[:n+int(h.Length)]
		if _, err := io.ReadFull(r, msg[n:]); err != nil {
			return fmt.Errorf("client: reading frame: %w", err)
		}
		if !h.Fin {
			fragmented = true
			continue
		}
		fragmented = false
		if !binary && !utf8.Valid(msg) {
			return c.fail(ws.StatusInvalidFramePayloadData, ErrInvalidUTF8, "in a text message")
		}
		select {
		case c.msgs <- message{msg, binary}:
		case <-c.quit:
			return ErrClosed
		}
		msg = nil
	}
}

// onClose answers a close frame from the server by echoing its code and
// returns the corresponding *CloseError.
func (c *Conn) onClose(p []byte) error {
	if len(p) == 1 {
		return c.fail(ws.StatusProtocolError, ErrProtocol, "close frame with a 1-byte body")
	}
	code, reason := ws.ParseCloseFrameData(p)
	if code.Empty() {
		_ = c.writeFrame(ws.OpClose, nil)
		return &CloseError{Code: int(ws.StatusNoStatusRcvd)}
	}
	_ = c.writeClose(code, "")
	return &CloseError{Code: int(code), Reason: reason}
}

// fail closes the connection with code after a violation by the server and
// returns err with detail.
func (c *Conn) fail(code ws.StatusCode, err error, detail string) error {
	_ = c.writeClose(code, detail)
	return fmt.Errorf("%w: %s", err, detail)
}

func (c *Conn) writeClose(code ws.StatusCode, reason string) error {
	return c.writeFrame(ws.OpClose, ws.NewCloseFrameBody(code, reason))
}

// writeFrame writes one masked, final frame. After a close frame nothing
// else is written.
func (c *Conn) writeFrame(op ws.OpCode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return ErrClosed
	}
	if op == ws.OpClose {
		c.closeSent = true
	}
	h := ws.Header{Fin: true, OpCode: op, Masked: true, Mask: ws.NewMask(), Length: int64(len(p))}
	c.wbuf.Reset()
	if err := ws.WriteHeader(&c.wbuf, h); err != nil {
		return err
	}
	n := c.wbuf.Len()
	c.wbuf.Write(p)
	ws.Cipher(c.wbuf.Bytes()[n:], h.Mask, 0)
	c.nc.SetWriteDeadline(time.Now().Add(c.opt.WriteTimeout))
	if _, err := c.nc.Write(c.wbuf.Bytes()); err != nil {
		// A partial frame leaves the stream unusable.
		c.closeSent = true
		c.nc.Close()
		return fmt.Errorf("client: writing frame: %w", err)
	}
	return nil
}
