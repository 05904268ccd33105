package fanout

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

func TestDataTS(t *testing.T) {
	sc := scales{price: 2, size: 3}
	lv := []orderbook.Level{{Price: 100, Size: 1000}}
	long := make([]orderbook.Level, 50) // a frame with a 2-byte extended length
	for i := range long {
		long[i] = orderbook.Level{Price: int64(1000 - i), Size: 1}
	}
	tests := []struct {
		name  string
		frame []byte
		ts    int64
		ok    bool
	}{
		{"update", encodeUpdate("book.A", 5, 6, 0, 1767225600123456, 7, lv, nil, sc), 1767225600123456, true},
		{"long update", encodeUpdate("book.A", 5, 6, 0, 1767225600000001, 7, long, long, sc), 1767225600000001, true},
		{"snapshot", encodeSnapshot("book.A", 5, 0, 1767225600123456, 7, lv, lv, sc), 0, false},
		{"pong", messageFrame(&schemas.ServerMessage{Type: schemas.TypePong, ID: 1, TS: 1767225600123456}), 0, false},
		{"ping", controlFrame(0x9, nil), 0, false},
		{"compressed", deflateFrame(encodeUpdate("book.A", 5, 6, 0, 1767225600000001, 7, long, long, sc)), 0, false},
		{"no digits", textFrame([]byte(`{"type":"update","ts":x}`)), 0, false},
		{"too many digits", textFrame([]byte(`{"type":"trades","ts":` + strings.Repeat("9", 25) + `}`)), 0, false},
	}
	for _, tt := range tests {
		ts, ok := dataTS(tt.frame)
		if ts != tt.ts && tt.ok || ok != tt.ok {
			t.Errorf("%s: dataTS = %d, %v; want %d, %v", tt.name, ts, ok, tt.ts, tt.ok)
		}
	}
}

// A long close reason is cut to fit a control frame without splitting a
// character: the close frame stays valid (at most 125 bytes, UTF-8).
func TestCloseFrameLongReason(t *testing.T) {
	for _, reason := range []string{strings.Repeat("x", 200), strings.Repeat("é", 100), "a" + strings.Repeat("€", 60)} {
		f := closeFrame(4003, reason)
		p := framePayload(f)
		if len(p) > 125 || f[0] != 0x88 || int(p[0])<<8|int(p[1]) != 4003 || !utf8.Valid(p[2:]) || !strings.HasPrefix(reason, string(p[2:])) || len(p) < 122 {
			t.Errorf("reason %q: close payload %q (%d bytes)", reason[:10], p, len(p))
		}
	}
}
