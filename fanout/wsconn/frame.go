package wsconn

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// MaxHeader is the largest server frame header: 2 bytes plus an 8-byte
// extended length (server frames are never masked). A frame is built in
// one buffer by appending its payload after MaxHeader reserved bytes and
// then writing the header in front of it (PutHeader), with no copy.
const MaxHeader = 10

// PutHeader writes a FIN frame header for op into the first MaxHeader
// bytes of b, right-aligned against the payload that follows, and returns
// the frame. The finished bytes are immutable and may be shared by every
// connection.
func PutHeader(b []byte, op ws.OpCode) []byte {
	n := len(b) - MaxHeader
	var start int
	switch {
	case n <= 125:
		start = MaxHeader - 2
		b[start+1] = byte(n)
	case n <= 0xffff:
		start = MaxHeader - 4
		b[start+1] = 126
		binary.BigEndian.PutUint16(b[start+2:], uint16(n))
	default:
		start = 0
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	}
	b[start] = 0x80 | byte(op)
	return b[start:]
}

// TextFrame returns payload as a complete text frame.
func TextFrame(payload []byte) []byte { return ControlFrame(ws.OpText, payload) }

// ControlFrame returns a complete frame of op (ping, pong or close, or
// text) carrying payload.
func ControlFrame(op ws.OpCode, payload []byte) []byte {
	b := make([]byte, MaxHeader, MaxHeader+len(payload))
	b = append(b, payload...)
	return PutHeader(b, op)
}

// CloseFrame returns a complete close frame with code and reason, the
// reason cut to the 123 bytes a control frame leaves it, at a character
// boundary so that it stays valid UTF-8.
func CloseFrame(code int, reason string) []byte {
	if len(reason) > 123 {
		n := 123
		for n > 0 && !utf8.RuneStart(reason[n]) {
			n--
		}
		reason = reason[:n]
	}
	return ControlFrame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusCode(code), reason))
}

// Payload returns the payload of a server frame (never masked).
func Payload(frame []byte) []byte {
	switch n := frame[1] & 0x7f; n {
	case 126:
		return frame[4:]
	case 127:
		return frame[10:]
	default:
		return frame[2:]
	}
}
