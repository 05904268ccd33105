package fanout

import (
	"encoding/json"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/schemas"
)

// frameBuilder assembles one complete WebSocket frame: the payload is
// appended after space reserved for the header, and finish writes the header
// right-aligned in front of it (wsconn.PutHeader), so the frame is built in
// one buffer with no copy. The finished bytes are immutable and shared by
// every subscriber.
type frameBuilder struct {
	b []byte
}

// begin starts a frame whose payload is expected to be about sizeHint bytes.
func (f *frameBuilder) begin(sizeHint int) {
	f.b = make([]byte, wsconn.MaxHeader, wsconn.MaxHeader+sizeHint)
}

// finish writes the header for op in front of the payload and returns the
// frame.
func (f *frameBuilder) finish(op ws.OpCode) []byte {
	return wsconn.PutHeader(f.b, op)
}

// messageFrame encodes a rarely sent control-plane message (welcome, acks,
// errors, pongs, statuses) with encoding/json. Market-data messages, which
// are hot, are encoded by the schemas package (schemas/server_encode.go).
func messageFrame(m *schemas.ServerMessage) []byte {
	p, err := json.Marshal(m)
	if err != nil {
		// ServerMessage holds only strings, numbers and slices of them.
		panic("fanout: encoding server message: " + err.Error())
	}
	return wsconn.TextFrame(p)
}
