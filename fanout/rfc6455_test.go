package fanout_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/schemas"
)

// rawFrame builds a client frame byte by byte, so that a test can send
// what no WebSocket library would: b0 is the first header byte (FIN, RSV,
// opcode); the payload is masked with a fixed key unless unmasked.
func rawFrame(b0 byte, payload []byte, unmasked bool) []byte {
	var b []byte
	b = append(b, b0)
	mask := byte(0x80)
	if unmasked {
		mask = 0
	}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, mask|byte(n))
	case n <= 0xffff:
		b = append(b, mask|126, byte(n>>8), byte(n))
	default:
		b = append(b, mask|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if unmasked {
		return append(b, payload...)
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b = append(b, key[:]...)
	p := append([]byte(nil), payload...)
	ws.Cipher(p, key, 0)
	return append(b, p...)
}

// closePayload is a close frame body: code, then reason bytes as given.
func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

const (
	fin     = 0x80
	rsv1    = 0x40
	rsv2    = 0x20
	rsv3    = 0x10
	opText  = 0x1
	opCont  = 0x0
	opBin   = 0x2
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xa
)

// readRawFrame reads one server frame without interpreting it.
func readRawFrame(c *wsClient) (ws.Frame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	return ws.ReadFrame(c.br)
}

// expectServerClose reads the server's answer to a violation: the very
// next frame must be a final, unmasked close frame of at most 125 bytes
// carrying code and a valid UTF-8 reason, and the server must then end the
// connection (EOF), having sent nothing else.
func expectServerClose(t *testing.T, c *wsClient, code ws.StatusCode) {
	t.Helper()
	f, err := readRawFrame(c)
	if err != nil {
		t.Fatalf("want close %d, got %v (no close frame)", code, err)
	}
	h := f.Header
	if h.OpCode != ws.OpClose {
		t.Fatalf("want close %d, got a %v frame %q", code, h.OpCode, f.Payload)
	}
	if !h.Fin || h.Rsv != 0 || h.Masked || h.Length > 125 || len(f.Payload) < 2 {
		t.Fatalf("malformed close frame: %+v %x", h, f.Payload)
	}
	if got := ws.StatusCode(binary.BigEndian.Uint16(f.Payload)); got != code {
		t.Fatalf("close code %d (%q), want %d", got, f.Payload[2:], code)
	}
	if !utf8.Valid(f.Payload[2:]) {
		t.Fatalf("close reason is not UTF-8: %x", f.Payload[2:])
	}
	// The client answers the close, as RFC 6455 §5.5.1 asks; the server
	// then ends the connection without another frame.
	_, _ = c.nc.Write(rawFrame(fin|opClose, closePayload(uint16(code), ""), false))
	if f, err := readRawFrame(c); !errors.Is(err, io.EOF) {
		t.Fatalf("after the close frame: %+v %q, %v; want EOF", f.Header, f.Payload, err)
	}
}

// TestRFC6455Violations sends every kind of malformed frame RFC 6455
// forbids on a real loopback connection and checks the exact close code
// the server answers with, before anything else (no pong to a bad ping, no
// echo of an invalid close code).
func TestRFC6455Violations(t *testing.T) {
	s := startServer(t, fanout.Config{Transport: wsconn.Config{MaxMessageSize: 1024}})
	bad := []byte("ok\xff\xfe")
	tests := []struct {
		name    string
		frames  [][]byte
		deflate bool
		code    ws.StatusCode
	}{
		{"ping of 126 bytes", [][]byte{rawFrame(fin|opPing, bytes.Repeat([]byte{'p'}, 126), false)}, false, ws.StatusProtocolError},
		{"ping of 4000 bytes", [][]byte{rawFrame(fin|opPing, bytes.Repeat([]byte{'p'}, 4000), false)}, false, ws.StatusProtocolError},
		{"pong of 200 bytes", [][]byte{rawFrame(fin|opPong, bytes.Repeat([]byte{'p'}, 200), false)}, false, ws.StatusProtocolError},
		{"close of 126 bytes", [][]byte{rawFrame(fin|opClose, closePayload(1000, strings.Repeat("r", 124)), false)}, false, ws.StatusProtocolError},
		{"ping without FIN", [][]byte{rawFrame(opPing, []byte("hi"), false)}, false, ws.StatusProtocolError},
		{"close without FIN", [][]byte{rawFrame(opClose, closePayload(1000, ""), false)}, false, ws.StatusProtocolError},
		{"close code 999", [][]byte{rawFrame(fin|opClose, closePayload(999, ""), false)}, false, ws.StatusProtocolError},
		{"close code 0", [][]byte{rawFrame(fin|opClose, closePayload(0, ""), false)}, false, ws.StatusProtocolError},
		{"close code 1004", [][]byte{rawFrame(fin|opClose, closePayload(1004, ""), false)}, false, ws.StatusProtocolError},
		{"close code 1005", [][]byte{rawFrame(fin|opClose, closePayload(1005, ""), false)}, false, ws.StatusProtocolError},
		{"close code 1006", [][]byte{rawFrame(fin|opClose, closePayload(1006, ""), false)}, false, ws.StatusProtocolError},
		{"close code 1012", [][]byte{rawFrame(fin|opClose, closePayload(1012, ""), false)}, false, ws.StatusProtocolError},
		{"close code 1015", [][]byte{rawFrame(fin|opClose, closePayload(1015, ""), false)}, false, ws.StatusProtocolError},
		{"close code 1016", [][]byte{rawFrame(fin|opClose, closePayload(1016, ""), false)}, false, ws.StatusProtocolError},
		{"close code 2999", [][]byte{rawFrame(fin|opClose, closePayload(2999, ""), false)}, false, ws.StatusProtocolError},
		{"close code 5000", [][]byte{rawFrame(fin|opClose, closePayload(5000, ""), false)}, false, ws.StatusProtocolError},
		{"close code 65535", [][]byte{rawFrame(fin|opClose, closePayload(65535, ""), false)}, false, ws.StatusProtocolError},
		{"close payload of 1 byte", [][]byte{rawFrame(fin|opClose, []byte{0x03}, false)}, false, ws.StatusProtocolError},
		{"close reason not UTF-8", [][]byte{rawFrame(fin|opClose, closePayload(1000, string(bad)), false)}, false, ws.StatusInvalidFramePayloadData},
		{"RSV1 without compression", [][]byte{rawFrame(fin|rsv1|opText, []byte(`{"op":"ping"}`), false)}, false, ws.StatusProtocolError},
		{"RSV2", [][]byte{rawFrame(fin|rsv2|opText, []byte(`{"op":"ping"}`), false)}, true, ws.StatusProtocolError},
		{"RSV3", [][]byte{rawFrame(fin|rsv3|opText, []byte(`{"op":"ping"}`), false)}, true, ws.StatusProtocolError},
		{"RSV1 on a ping", [][]byte{rawFrame(fin|rsv1|opPing, []byte("hi"), false)}, true, ws.StatusProtocolError},
		{"RSV1 on a continuation", [][]byte{
			rawFrame(opText, []byte(`{"op":`), false),
			rawFrame(fin|rsv1|opCont, []byte(`"ping"}`), false)}, true, ws.StatusProtocolError},
		{"opcode 3", [][]byte{rawFrame(fin|0x3, []byte("x"), false)}, false, ws.StatusProtocolError},
		{"opcode 7", [][]byte{rawFrame(fin|0x7, nil, false)}, false, ws.StatusProtocolError},
		{"opcode 0xB", [][]byte{rawFrame(fin|0xb, nil, false)}, false, ws.StatusProtocolError},
		{"opcode 0xF of 200 bytes", [][]byte{rawFrame(fin|0xf, bytes.Repeat([]byte{'x'}, 200), false)}, false, ws.StatusProtocolError},
		{"unmasked text", [][]byte{rawFrame(fin|opText, []byte(`{"op":"ping"}`), true)}, false, ws.StatusProtocolError},
		{"unmasked ping", [][]byte{rawFrame(fin|opPing, []byte("hi"), true)}, false, ws.StatusProtocolError},
		{"length with the top bit set", [][]byte{{fin | opText, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}}, false, ws.StatusProtocolError},
		{"length 2^63-1", [][]byte{{fin | opText, 0x80 | 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}}, false, ws.StatusMessageTooBig},
		{"text over the limit", [][]byte{rawFrame(fin|opText, bytes.Repeat([]byte{' '}, 1025), false)}, false, ws.StatusMessageTooBig},
		{"fragments over the limit", [][]byte{
			rawFrame(opText, bytes.Repeat([]byte{' '}, 600), false),
			rawFrame(opCont, bytes.Repeat([]byte{' '}, 600), false)}, false, ws.StatusMessageTooBig},
		{"continuation without a start", [][]byte{rawFrame(fin|opCont, []byte(`{"op":"ping"}`), false)}, false, ws.StatusProtocolError},
		{"text inside a fragmented text", [][]byte{
			rawFrame(opText, []byte(`{"op":`), false),
			rawFrame(fin|opText, []byte(`{"op":"ping"}`), false)}, false, ws.StatusProtocolError},
		{"binary inside a fragmented text", [][]byte{
			rawFrame(opText, []byte(`{"op":`), false),
			rawFrame(fin|opBin, []byte(`x`), false)}, false, ws.StatusProtocolError},
		{"binary", [][]byte{rawFrame(fin|opBin, []byte{1, 2, 3}, false)}, false, ws.StatusUnsupportedData},
		{"text not UTF-8", [][]byte{rawFrame(fin|opText, bad, false)}, false, ws.StatusInvalidFramePayloadData},
		{"fragmented text not UTF-8", [][]byte{
			rawFrame(opText, []byte(`{"op":"ping","x":"`), false),
			rawFrame(fin|opCont, append(append([]byte(nil), bad...), `"}`...), false)}, false, ws.StatusInvalidFramePayloadData},
	}
	for _, split := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if split {
				name += " in pieces"
			}
			t.Run(name, func(t *testing.T) {
				var c *wsClient
				if tt.deflate {
					c = dialDeflate(t, s.url).c
					if m := c.next(); m.Type != schemas.TypeWelcome {
						t.Fatalf("want welcome, got %+v", m)
					}
				} else {
					c = dial(t, s.url)
				}
				b := bytes.Join(tt.frames, nil)
				if split {
					// The first bytes one by one, in segments of their own:
					// the violation is found whatever the reads return.
					for i := 0; i < 16 && len(b) > 0; i++ {
						if _, err := c.nc.Write(b[:1]); err != nil {
							t.Fatal(err)
						}
						b = b[1:]
						time.Sleep(time.Millisecond)
					}
				}
				if _, err := c.nc.Write(b); err != nil {
					t.Fatal(err)
				}
				expectServerClose(t, c, tt.code)
			})
		}
	}
}

// TestRFC6455ValidFrames: the limits of what RFC 6455 allows are served:
// a ping of 125 bytes is answered with a pong of the same 125 bytes, empty
// control frames are fine, a ping between the fragments of a message is
// answered, and valid close codes (1000-1003, 1007-1011, 3000-4999) and
// an empty close are answered with a close frame.
func TestRFC6455ValidFrames(t *testing.T) {
	s := startServer(t, fanout.Config{})
	t.Run("ping of 125 bytes", func(t *testing.T) {
		c := dial(t, s.url)
		p := bytes.Repeat([]byte{0xa5}, 125)
		if _, err := c.nc.Write(rawFrame(fin|opPing, p, false)); err != nil {
			t.Fatal(err)
		}
		f, err := readRawFrame(c)
		if err != nil || f.Header.OpCode != ws.OpPong || !f.Header.Fin || !bytes.Equal(f.Payload, p) {
			t.Fatalf("want a pong of the 125 bytes, got %+v %x %v", f.Header, f.Payload, err)
		}
	})
	t.Run("empty ping and pong, ping between fragments", func(t *testing.T) {
		c := dial(t, s.url)
		var b []byte
		b = append(b, rawFrame(fin|opPong, nil, false)...)
		b = append(b, rawFrame(opText, []byte(`{"op":"ping",`), false)...)
		b = append(b, rawFrame(fin|opPing, nil, false)...)
		b = append(b, rawFrame(fin|opCont, []byte(`"id":3}`), false)...)
		if _, err := c.nc.Write(b); err != nil {
			t.Fatal(err)
		}
		f, err := readRawFrame(c)
		if err != nil || f.Header.OpCode != ws.OpPong || len(f.Payload) != 0 {
			t.Fatalf("want an empty pong, got %+v %q %v", f.Header, f.Payload, err)
		}
		if m := c.next(); m.Type != schemas.TypePong || m.ID != 3 {
			t.Fatalf("want pong 3, got %+v", m)
		}
	})
	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		c := dial(t, s.url)
		if _, err := c.nc.Write(rawFrame(fin|opClose, closePayload(code, "bye ✓"), false)); err != nil {
			t.Fatal(err)
		}
		f, err := readRawFrame(c)
		if err != nil || f.Header.OpCode != ws.OpClose || len(f.Payload) < 2 || binary.BigEndian.Uint16(f.Payload) != code {
			t.Fatalf("close %d: want it echoed, got %+v %x %v", code, f.Header, f.Payload, err)
		}
	}
	// Control frames are bounded by RFC 6455 (125 bytes), not by the
	// message size limit.
	small := startServer(t, fanout.Config{Transport: wsconn.Config{MaxMessageSize: 64}})
	c := dial(t, small.url)
	p := bytes.Repeat([]byte{'p'}, 100)
	if _, err := c.nc.Write(rawFrame(fin|opPing, p, false)); err != nil {
		t.Fatal(err)
	}
	if f, err := readRawFrame(c); err != nil || f.Header.OpCode != ws.OpPong || !bytes.Equal(f.Payload, p) {
		t.Fatalf("ping of 100 bytes with a 64-byte message limit: got %+v %q %v, want its pong", f.Header, f.Payload, err)
	}
	c = dial(t, s.url)
	if _, err := c.nc.Write(rawFrame(fin|opClose, nil, false)); err != nil {
		t.Fatal(err)
	}
	f, err := readRawFrame(c)
	if err != nil || f.Header.OpCode != ws.OpClose || len(f.Payload) < 2 || binary.BigEndian.Uint16(f.Payload) != 1000 {
		t.Fatalf("empty close: want 1000, got %+v %x %v", f.Header, f.Payload, err)
	}
}
