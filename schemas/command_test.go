package schemas

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseCommandValid(t *testing.T) {
	tests := []struct {
		in   string
		want Command
	}{
		{`{"op":"subscribe","id":1,"channel":"book.BTC-USD","depth":20,"interval":"raw"}`,
			Command{Op: OpSubscribe, ID: 1, Channels: []string{"book.BTC-USD"}, Depth: 20, Interval: "raw"}},
		{` {"channels":["ticker.A","trades.B"],"op":"subscribe","extra":{"x":[1]}} `,
			Command{Op: OpSubscribe, Channels: []string{"ticker.A", "trades.B"}}},
		{`{"op":"unsubscribe","id":-9223372036854775808,"channel":"book.A","depth":"ignored","interval":7}`,
			Command{Op: OpUnsubscribe, ID: -9223372036854775808, Channels: []string{"book.A"}}},
		{`{"op":"ping","id":3,"channel":5}`, Command{Op: OpPing, ID: 3}},
		{`{"op":"list","id":9223372036854775807,"op":"list"}`, Command{Op: OpList, ID: 9223372036854775807}},
		{`{"op":"subscribe","channel":"not checked here","interval":"1s","depth":1000}`,
			Command{Op: OpSubscribe, Channels: []string{"not checked here"}, Depth: 1000, Interval: "1s"}},
		{`{"op":"subscribe","channel":"book.A","lag":"snapshot"}`,
			Command{Op: OpSubscribe, Channels: []string{"book.A"}, Lag: LagSnapshot}},
		{`{"op":"subscribe","channel":"book.A","lag":"evict"}`,
			Command{Op: OpSubscribe, Channels: []string{"book.A"}, Lag: LagEvict}},
		{`{"op":"auth","id":6,"key":"mfk_abc","channel":"ignored"}`, Command{Op: OpAuth, ID: 6, Key: "mfk_abc"}},
	}
	var c Command
	for _, tt := range tests {
		if err := ParseCommand([]byte(tt.in), &c); err != nil {
			t.Errorf("ParseCommand(%s): %v", tt.in, err)
			continue
		}
		if !commandEqual(&c, &tt.want) {
			t.Errorf("ParseCommand(%s) = %+v, want %+v", tt.in, c, tt.want)
		}
	}
}

func TestParseCommandErrors(t *testing.T) {
	many := `"c` + strings.Repeat(`","c`, MaxChannelsPerCommand) + `"`
	tests := []struct {
		in   string
		code string
		id   int64
	}{
		{``, CodeInvalidJSON, 0},
		{`{"op":"ping"`, CodeInvalidJSON, 0},
		{`{"op":"ping"}x`, CodeInvalidJSON, 0},
		{`null`, CodeInvalidRequest, 0},
		{`["op","ping"]`, CodeInvalidRequest, 0},
		{`{"id":1}`, CodeInvalidRequest, 1},
		{`{"op":null}`, CodeInvalidRequest, 0},
		{`{"op":1}`, CodeInvalidRequest, 0},
		{`{"op":"PING","id":2}`, CodeUnknownOp, 2},
		{`{"op":"ping","id":1.5}`, CodeInvalidRequest, 0},
		{`{"op":"ping","id":1e2}`, CodeInvalidRequest, 0},
		{`{"op":"ping","id":9223372036854775808}`, CodeInvalidRequest, 0},
		{`{"op":"ping","id":null}`, CodeInvalidRequest, 0},
		{`{"op":"subscribe","id":3}`, CodeInvalidRequest, 3},
		{`{"op":"auth","id":7}`, CodeInvalidRequest, 7},
		{`{"op":"auth","key":""}`, CodeInvalidRequest, 0},
		{`{"op":"auth","key":7}`, CodeInvalidRequest, 0},
		{`{"op":"subscribe","channel":"a","channels":["b"]}`, CodeInvalidRequest, 0},
		{`{"op":"subscribe","channel":null}`, CodeInvalidRequest, 0},
		{`{"op":"subscribe","channels":"book.A"}`, CodeInvalidRequest, 0},
		{`{"op":"subscribe","channels":[]}`, CodeInvalidRequest, 0},
		{`{"op":"subscribe","channels":[` + many + `]}`, CodeInvalidRequest, 0},
		{`{"op":"unsubscribe","channels":["a",1]}`, CodeInvalidRequest, 0},
		{`{"op":"subscribe","id":4,"channel":"book.A","depth":20.0}`, CodeInvalidRequest, 4},
		{`{"op":"subscribe","channel":"book.A","depth":"20"}`, CodeInvalidRequest, 0},
		{`{"op":"subscribe","id":5,"channel":"book.A","depth":0}`, CodeInvalidDepth, 5},
		{`{"op":"subscribe","channel":"book.A","depth":-20}`, CodeInvalidDepth, 0},
		{`{"op":"subscribe","channel":"book.A","depth":99999999999999}`, CodeInvalidDepth, 0},
		{`{"op":"subscribe","channel":"book.A","interval":null}`, CodeInvalidRequest, 0},
		{`{"op":"subscribe","channel":"book.A","interval":"RAW"}`, CodeInvalidInterval, 0},
		{`{"op":"subscribe","channel":"book.A","lag":"skip"}`, CodeInvalidRequest, 0},
		{`{"op":"subscribe","channel":"book.A","lag":null}`, CodeInvalidRequest, 0},
	}
	for _, tt := range tests {
		c := Command{Op: OpList, ID: 99, Channels: []string{"stale"}, Depth: 5, Interval: "1s"}
		err := ParseCommand([]byte(tt.in), &c)
		var pe *ProtocolError
		if !errors.As(err, &pe) || pe.Code != tt.code {
			t.Errorf("ParseCommand(%s) = %v, want code %s", tt.in, err, tt.code)
			continue
		}
		if c.ID != tt.id {
			t.Errorf("ParseCommand(%s) left ID %d, want %d", tt.in, c.ID, tt.id)
		}
		if !strings.HasPrefix(err.Error(), "schemas: "+tt.code+": ") {
			t.Errorf("error text %q", err.Error())
		}
	}
	// invalid_depth names the channel when there is exactly one.
	var c Command
	err := ParseCommand([]byte(`{"op":"subscribe","channel":"book.A","depth":3}`), &c)
	if pe := (*ProtocolError)(nil); !errors.As(err, &pe) || pe.Channel != "book.A" {
		t.Errorf("invalid_depth error %v lacks the channel", err)
	}
}

func TestParseCommandReusesChannels(t *testing.T) {
	var c Command
	if err := ParseCommand([]byte(`{"op":"subscribe","channels":["book.A","book.B","book.C"]}`), &c); err != nil {
		t.Fatal(err)
	}
	first := &c.Channels[:1][0]
	if err := ParseCommand([]byte(`{"op":"unsubscribe","channel":"book.D"}`), &c); err != nil {
		t.Fatal(err)
	}
	if &c.Channels[0] != first || !slices.Equal(c.Channels, []string{"book.D"}) {
		t.Errorf("Channels %v not reused", c.Channels)
	}
}

func TestParseChannel(t *testing.T) {
	tests := []struct {
		in     string
		kind   ChannelKind
		symbol string
	}{
		{"book.BTC-USD", ChannelBook, "BTC-USD"},
		{"ticker.a_b.c/d", ChannelTicker, "a_b.c/d"},
		{"trades." + strings.Repeat("Z", 32), ChannelTrades, strings.Repeat("Z", 32)},
		{"bbo.BTC-USD", ChannelBBO, "BTC-USD"},
		{"candles.BTC-USD", ChannelCandles, "BTC-USD"},
		{"book", 0, ""},
		{"book.", 0, ""},
		{"Book.A", 0, ""},
		{"klines.A", 0, ""},
		{".A", 0, ""},
		{"book.A B", 0, ""},
		{"book.é", 0, ""},
		{"trades." + strings.Repeat("Z", 33), 0, ""},
	}
	for _, tt := range tests {
		kind, symbol, err := ParseChannel(tt.in)
		if tt.kind == 0 {
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Code != CodeUnknownChannel || pe.Channel != tt.in {
				t.Errorf("ParseChannel(%q) = %v, want unknown_channel", tt.in, err)
			}
			continue
		}
		if err != nil || kind != tt.kind || symbol != tt.symbol {
			t.Errorf("ParseChannel(%q) = %v, %q, %v; want %v, %q", tt.in, kind, symbol, err, tt.kind, tt.symbol)
		}
		if name := kind.String() + "." + symbol; name != tt.in {
			t.Errorf("kind and symbol rebuild %q, want %q", name, tt.in)
		}
	}
}

func TestDepthsAndIntervals(t *testing.T) {
	offered := []int{1, 5, 10, 20, 50, 100, 500, 1000}
	for d := -2; d <= 1001; d++ {
		if ValidDepth(d) != slices.Contains(offered, d) {
			t.Errorf("ValidDepth(%d) = %v", d, ValidDepth(d))
		}
	}
	if !ValidDepth(DefaultDepth) {
		t.Errorf("DefaultDepth %d is not offered", DefaultDepth)
	}
	for _, s := range []string{IntervalRaw, Interval100ms, Interval1s} {
		if !ValidInterval(s) {
			t.Errorf("ValidInterval(%q) = false", s)
		}
	}
	for _, s := range []string{"", "RAW", "1000ms", "1s "} {
		if ValidInterval(s) {
			t.Errorf("ValidInterval(%q) = true", s)
		}
	}
	for k, want := range map[ChannelKind]string{ChannelBook: IntervalRaw, ChannelBBO: IntervalRaw, ChannelTrades: IntervalRaw, ChannelTicker: Interval100ms} {
		if got := DefaultInterval(k); got != want {
			t.Errorf("DefaultInterval(%v) = %q, want %q", k, got, want)
		}
	}
}

func commandEqual(a, b *Command) bool {
	return a.Op == b.Op && a.ID == b.ID && slices.Equal(a.Channels, b.Channels) && a.Depth == b.Depth &&
		a.Interval == b.Interval && a.Lag == b.Lag && slices.Equal(a.Resume, b.Resume)
}

func FuzzParseCommand(f *testing.F) {
	for _, ex := range extractExamples(f, "websocket.md") {
		if strings.HasPrefix(ex.role, "client") {
			f.Add(ex.body)
		}
	}
	for _, s := range []string{
		`{"op":"subscribe","channels":["book.A","book.A"],"depth":5,"interval":"100ms","id":-1}`,
		`{"op":"subscribe","channel":"book.\u0000\ud800\"","depth":1}`,
		`{"op":"unsubscribe","channels":["x"],"id":0}`,
		`{"op":"ping","id":-0}`,
		"{\"op\":\"list\",\"x\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Command
		err := ParseCommand(data, &c)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Code == "" {
				t.Fatalf("ParseCommand(%q) = %v, want a *ProtocolError with a code", data, err)
			}
			return
		}
		enc := AppendCommand(nil, &c)
		var c2 Command
		if err := ParseCommand(enc, &c2); err != nil {
			t.Fatalf("re-encoded %q (from %q) does not parse: %v", enc, data, err)
		}
		if !commandEqual(&c, &c2) {
			t.Fatalf("round trip of %q through %q: %+v, want %+v", data, enc, c2, c)
		}
		// A command with valid channel names is a valid message per the
		// client schema.
		valid := true
		for _, ch := range c.Channels {
			if _, _, err := ParseChannel(ch); err != nil {
				valid = false
			}
		}
		if valid {
			if err := validate(t, ClientMessageSchema, data); err != nil {
				t.Fatalf("ParseCommand accepts %q but the schema does not: %v", data, err)
			}
		}
	})
}

// TestAppendCommandSpecExamples encodes every valid client example of
// websocket.md again: AppendCommand writes each one byte for byte (the
// examples are in its field order), which covers every op.
func TestAppendCommandSpecExamples(t *testing.T) {
	ops := map[Op]bool{}
	for _, ex := range extractExamples(t, "websocket.md") {
		if ex.role != "client" {
			continue
		}
		var c Command
		if err := ParseCommand(ex.body, &c); err != nil {
			t.Fatalf("%s: %v", ex, err)
		}
		if got := AppendCommand(nil, &c); string(got) != string(bytes.TrimSpace(ex.body)) {
			t.Errorf("%s: AppendCommand\n got %s\nwant %s", ex, got, ex.body)
		}
		ops[c.Op] = true
	}
	for op := OpSubscribe; op <= OpAuth; op++ {
		if !ops[op] {
			t.Errorf("no client example of %s", op)
		}
	}
}
