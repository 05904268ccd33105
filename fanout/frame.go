package fanout

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/schemas"
)

// maxHeader is the largest server frame header: 2 bytes plus an 8-byte
// extended length (server frames are never masked).
const maxHeader = 10

// frameBuilder assembles one complete WebSocket frame: the payload is
// appended after space reserved for the header, and finish writes the header
// right-aligned in front of it, so the frame is built in one buffer with no
// copy. The finished bytes are immutable and shared by every subscriber.
type frameBuilder struct {
	b []byte
}

// begin starts a frame whose payload is expected to be about sizeHint bytes.
func (f *frameBuilder) begin(sizeHint int) {
	f.b = make([]byte, maxHeader, maxHeader+sizeHint)
}

// finish writes the header for op in front of the payload and returns the
// frame.
func (f *frameBuilder) finish(op ws.OpCode) []byte {
	return putHeader(f.b, op)
}

// putHeader writes a FIN frame header for op into the first maxHeader bytes
// of b, right-aligned against the payload that follows, and returns the
// frame.
func putHeader(b []byte, op ws.OpCode) []byte {
	n := len(b) - maxHeader
	var start int
	switch {
	case n <= 125:
		start = maxHeader - 2
		b[start+1] = byte(n)
	case n <= 0xffff:
		start = maxHeader - 4
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

// textFrame returns payload as a complete text frame.
func textFrame(payload []byte) []byte {
	b := make([]byte, maxHeader, maxHeader+len(payload))
	b = append(b, payload...)
	return putHeader(b, ws.OpText)
}

// controlFrame returns a complete control frame (ping, pong or close).
func controlFrame(op ws.OpCode, payload []byte) []byte {
	b := make([]byte, maxHeader, maxHeader+len(payload))
	b = append(b, payload...)
	return putHeader(b, op)
}

// closeFrame returns a complete close frame with code and reason, the
// reason cut to the 123 bytes a control frame leaves it, at a character
// boundary so that it stays valid UTF-8.
func closeFrame(code int, reason string) []byte {
	if len(reason) > 123 {
		n := 123
		for n > 0 && !utf8.RuneStart(reason[n]) {
			n--
		}
		reason = reason[:n]
	}
	return controlFrame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusCode(code), reason))
}

// messageFrame encodes a rarely sent control-plane message (welcome, acks,
// errors, pongs, statuses) with encoding/json. Market-data messages, which
// are hot, are encoded by hand in encode.go.
func messageFrame(m *schemas.ServerMessage) []byte {
	p, err := json.Marshal(m)
	if err != nil {
		// ServerMessage holds only strings, numbers and slices of them.
		panic("fanout: encoding server message: " + err.Error())
	}
	return textFrame(p)
}

// appendJSONString appends s as a JSON string. Channel names and decimals
// never need escaping; trade ids and other exchange strings might.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size - 1
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// dataTS returns the exchange timestamp (µs) of an uncompressed book
// update or trades frame, read from its leading "ts" field (for trades,
// the first trade's); ok is false for any other frame. Snapshots and
// tickers are left out: on subscribe they carry the state of a possibly
// quiet symbol, whose timestamp says nothing about delivery.
func dataTS(f []byte) (ts int64, ok bool) {
	if len(f) < 2 || f[0] != 0x81 { // FIN, text, not compressed
		return 0, false
	}
	hl := 2
	switch f[1] & 0x7f {
	case 126:
		hl = 4
	case 127:
		hl = 10
	}
	if len(f) < hl {
		return 0, false
	}
	p := f[hl:]
	if len(p) > 200 {
		p = p[:200]
	}
	const typ = `{"type":"`
	if !bytes.HasPrefix(p, []byte(typ)) {
		return 0, false
	}
	switch rest := p[len(typ):]; {
	case bytes.HasPrefix(rest, []byte(`update"`)), bytes.HasPrefix(rest, []byte(`trades"`)):
	default:
		return 0, false
	}
	i := bytes.Index(p, []byte(`"ts":`))
	if i < 0 {
		return 0, false
	}
	n := 0
	for _, c := range p[i+5:] {
		if c < '0' || c > '9' {
			break
		}
		ts = ts*10 + int64(c-'0')
		n++
	}
	return ts, n > 0 && n < 19
}
