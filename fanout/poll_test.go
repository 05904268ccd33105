package fanout_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestReadGoroutines runs the protocol tests again with the poller
// disabled: every connection then reads with a goroutine of its own, as
// TLS connections and other systems always do.
func TestReadGoroutines(t *testing.T) {
	tests := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"SubscribeSnapshotThenUpdates", TestSubscribeSnapshotThenUpdates},
		{"BadClientMessages", TestBadClientMessages},
		{"CloseCodes", TestCloseCodes},
		{"InboundRateLimit", TestInboundRateLimit},
		{"IdleClientIsClosed", TestIdleClientIsClosed},
		{"PongsKeepAlive", TestPongsKeepAlive},
		{"CompressedAndPlainClientsGetIdenticalMessages", TestCompressedAndPlainClientsGetIdenticalMessages},
		{"CompressedMessageTooBigWhenInflated", TestCompressedMessageTooBigWhenInflated},
		{"ReservedBitsWithoutCompressionClose1002", TestReservedBitsWithoutCompressionClose1002},
		{"LifetimeNoticeThenClose", TestLifetimeNoticeThenClose},
		{"ShutdownNoticeThenGoingAway", TestShutdownNoticeThenGoingAway},
		{"SlowConsumerEvicted", TestSlowConsumerEvicted},
		{"FramesSplitAcrossSegments", TestFramesSplitAcrossSegments},
		{"BytesWithTheHandshake", TestBytesWithTheHandshake},
		{"ClientsGone", TestClientsGone},
		{"IdleConnectionGoroutines", TestIdleConnectionGoroutines},
		{"RFC6455Violations", TestRFC6455Violations},
		{"RFC6455ValidFrames", TestRFC6455ValidFrames},
	}
	readGoroutines = true
	defer func() { readGoroutines = false }()
	for _, tt := range tests {
		t.Run(tt.name, tt.fn)
	}
}

// TestIdleConnectionGoroutines opens 200 subscribed connections and counts
// goroutines once they are idle: under the poller an idle connection holds
// none, with read goroutines each holds one. The connections are then all
// still served.
func TestIdleConnectionGoroutines(t *testing.T) {
	const n = 200
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 1, bookBids, bookAsks))
	s.sync(t)
	warm := dial(t, s.url) // starts the hub's pinger (and poller)
	warm.sendText(`{"op":"ping","id":1}`)
	warm.next()
	before := settledGoroutines(t, -1)

	clients := make([]*wsClient, n)
	for i := range clients {
		c := dial(t, s.url)
		c.sendText(`{"op":"subscribe","channel":"book.BTC-USD","depth":1}`)
		c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot })
		clients[i] = c
	}
	want := before + 10 // a few goroutines of the runtime or the HTTP server may come and go
	if readGoroutines {
		want = before + n
	}
	after := settledGoroutines(t, want)
	t.Logf("goroutines: %d before, %d with %d idle connections", before, after, n)
	if !readGoroutines && after-before > 10 {
		t.Fatalf("%d goroutines more with %d idle connections", after-before, n)
	}
	if readGoroutines && after-before < n {
		t.Fatalf("only %d goroutines more with %d connections that each have a read goroutine", after-before, n)
	}

	// Every one of them is still served: an update and a command.
	s.feed(delta("BTC-USD", 2, `[["100.00","0"]]`, `[]`))
	for i, c := range clients {
		if m := c.next(); m.Type != schemas.TypeUpdate || m.Seq != 2 {
			t.Fatalf("client %d: want update 2, got %+v", i, m)
		}
		c.sendText(fmt.Sprintf(`{"op":"ping","id":%d}`, i+2))
	}
	for i, c := range clients {
		if m := c.next(); m.Type != schemas.TypePong || m.ID != int64(i+2) {
			t.Fatalf("client %d: want pong, got %+v", i, m)
		}
	}
}

// settledGoroutines waits until the goroutine count stops falling (and
// until it is at most want, if want is not negative, for up to 10s), and
// returns it.
func settledGoroutines(t *testing.T, want int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last := runtime.NumGoroutine()
	for {
		time.Sleep(100 * time.Millisecond)
		n := runtime.NumGoroutine()
		if n >= last && (want < 0 || n <= want) || time.Now().After(deadline) {
			return n
		}
		last = n
	}
}

// TestPongsKeepAlive: a client that answers pings is not idle, even though
// it sends nothing else.
func TestPongsKeepAlive(t *testing.T) {
	s := startServer(t, fanout.Config{Transport: wsconn.Config{PingInterval: 50 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}})
	c := dial(t, s.url)
	// read answers pings; nothing but pings arrives for a second.
	if _, _, err := c.read(time.Second); !isTimeout(err) {
		t.Fatalf("want no message for a second, got %v", err)
	}
	c.sendText(`{"op":"ping","id":3}`)
	if m := c.next(); m.Type != schemas.TypePong || m.ID != 3 {
		t.Fatalf("want pong, got %+v", m)
	}
	if got := testutil.ToFloat64(s.m.Disconnects.WithLabelValues("idle_timeout")); got != 0 {
		t.Fatalf("%v idle_timeout disconnects", got)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestFramesSplitAcrossSegments: frames arrive in pieces, with pauses
// between the segments; a fragmented message has its fragments, and a ping
// between them, in separate segments.
func TestFramesSplitAcrossSegments(t *testing.T) {
	s := startServer(t, fanout.Config{})
	c := dial(t, s.url)
	pause := func() { time.Sleep(50 * time.Millisecond) }
	write := func(b []byte) {
		t.Helper()
		if _, err := c.nc.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	frame := func(f ws.Frame) []byte {
		var b bytes.Buffer
		if err := ws.WriteFrame(&b, ws.MaskFrame(f)); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}

	// One frame in three segments: inside the header, then inside the
	// payload.
	f := frame(ws.NewTextFrame([]byte(`{"op":"ping","id":1}`)))
	write(f[:1])
	pause()
	write(f[1:10])
	pause()
	write(f[10:])
	if m := c.next(); m.Type != schemas.TypePong || m.ID != 1 {
		t.Fatalf("want pong 1, got %+v", m)
	}

	// A message in three fragments, a ping between two of them, each in
	// its own segment.
	msg := `{"op":"ping","id":2,"pad":"` + strings.Repeat("x", 300) + `"}`
	write(frame(ws.NewFrame(ws.OpText, false, []byte(msg[:100]))))
	pause()
	write(frame(ws.NewPingFrame([]byte("hi"))))
	pause()
	part := frame(ws.NewFrame(ws.OpContinuation, false, []byte(msg[100:200])))
	write(part[:len(part)/2])
	pause()
	write(part[len(part)/2:])
	pause()
	write(frame(ws.NewFrame(ws.OpContinuation, true, []byte(msg[200:]))))
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		fr, err := ws.ReadFrame(c.br)
		if err != nil {
			t.Fatal(err)
		}
		if fr.Header.OpCode == ws.OpPong {
			if string(fr.Payload) != "hi" {
				t.Fatalf("pong payload %q", fr.Payload)
			}
			break
		}
	}
	if m := c.next(); m.Type != schemas.TypePong || m.ID != 2 {
		t.Fatalf("want pong 2, got %+v", m)
	}
}

// TestBytesWithTheHandshake: a client sends its first commands in the same
// segment as the upgrade request; they are handled before anything else it
// sends.
func TestBytesWithTheHandshake(t *testing.T) {
	s := startServer(t, fanout.Config{})
	addr := strings.TrimSuffix(strings.TrimPrefix(s.url, "ws://"), "/ws")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	var b bytes.Buffer
	b.WriteString("GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	for i := 1; i <= 3; i++ {
		_ = ws.WriteFrame(&b, ws.MaskFrame(ws.NewTextFrame(fmt.Appendf(nil, `{"op":"ping","id":%d}`, i))))
	}
	if _, err := nc.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	c := &wsClient{t: t, nc: nc, br: br}
	if m := c.next(); m.Type != schemas.TypeWelcome {
		t.Fatalf("want welcome, got %+v", m)
	}
	c.sendText(`{"op":"ping","id":4}`)
	for i := 1; i <= 4; i++ {
		if m := c.next(); m.Type != schemas.TypePong || m.ID != int64(i) {
			t.Fatalf("want pong %d, got %+v", i, m)
		}
	}
}

// TestClientsGone: clients that vanish without a close frame, idle or in
// the middle of a frame, are cleaned up.
func TestClientsGone(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 1, bookBids, bookAsks))
	s.sync(t)
	for i := range 20 {
		c := dial(t, s.url)
		c.sendText(`{"op":"subscribe","channel":"book.BTC-USD","depth":1}`)
		c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot })
		if i%2 == 1 {
			_, _ = c.nc.Write([]byte{0x81, 0x85, 1, 2}) // half a header
		}
		c.nc.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.hub.ConnCount() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections left", s.hub.ConnCount())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
