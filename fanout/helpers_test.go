package fanout_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/schemas"
)

// testServer is a hub behind a real HTTP server on loopback, fed by a real
// shard whose input channel the test writes records into.
type testServer struct {
	hub   *fanout.Hub
	shard *feed.Shard
	in    chan feed.Batch
	url   string
	m     *fanout.Metrics
}

// readGoroutines makes startServer disable the poller, so that a test runs
// with a read goroutine per connection (TestReadGoroutines). The package's
// tests do not run in parallel.
var readGoroutines bool

func startServer(t *testing.T, cfg fanout.Config) *testServer {
	t.Helper()
	return startServerWith(t, cfg, false)
}

// startServerWith is startServer, serving TLS (wss, the test server's own
// certificate) if useTLS.
func startServerWith(t *testing.T, cfg fanout.Config, useTLS bool) *testServer {
	t.Helper()
	if readGoroutines {
		cfg.Transport.DisablePoller = true
	}
	m := fanout.NewMetrics(nil)
	hub, err := fanout.NewHub(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(hub)
	if useTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	ctx, cancel := context.WithCancel(context.Background())
	shard := feed.NewShard(feed.ShardConfig{Listener: hub.NewGroup(), FlushEvery: 20 * time.Millisecond}, 0)
	in := make(chan feed.Batch, 16)
	done := make(chan struct{})
	go func() { shard.Run(ctx, in); close(done) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = hub.Shutdown(sctx)
		srv.Close()
		cancel()
		<-done
	})
	return &testServer{hub: hub, shard: shard, in: in, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws", m: m}
}

// feed sends records (JSON values keyed by their symbol) to the shard.
func (s *testServer) feed(values ...string) {
	b := feed.Batch{}
	for _, v := range values {
		var probe struct{ Symbol string }
		_ = json.Unmarshal([]byte(v), &probe)
		b.Records = append(b.Records, feed.Record{Key: []byte(probe.Symbol), Value: []byte(v)})
	}
	s.in <- b
}

// sync waits until the shard has processed everything sent before. The
// shard's loop picks its input and Exec requests in random order, so an
// Exec alone may run before a batch already queued: sync repeats it until
// the input is empty when it runs (a batch taken from the input is
// applied before the loop serves the next request).
func (s *testServer) sync(t *testing.T) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		drained := make(chan bool, 1)
		if !s.shard.Exec(func() { drained <- len(s.in) == 0 }) {
			t.Fatal("shard stopped")
		}
		select {
		case ok := <-drained:
			if ok {
				return
			}
		case <-deadline:
			t.Fatal("shard did not drain its input")
		}
	}
}

// wsClient is a minimal raw WebSocket client for protocol tests.
type wsClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
	// op is the opcode of the last message read: text, or binary on a
	// connection of the binary subprotocol.
	op ws.OpCode
}

func dial(t *testing.T, url string) *wsClient {
	t.Helper()
	return dialWith(t, ws.Dialer{}, url)
}

// dialWith connects with d and reads the welcome message.
func dialWith(t *testing.T, d ws.Dialer, url string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, br, _, err := d.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if br == nil {
		br = bufio.NewReader(nc)
	}
	c := &wsClient{t: t, nc: nc, br: br}
	t.Cleanup(func() { nc.Close() })
	m := c.next()
	if m.Type != schemas.TypeWelcome || m.Protocol != schemas.ProtocolVersion {
		t.Fatalf("first message %+v, want welcome", m)
	}
	return c
}

func (c *wsClient) sendText(s string) {
	c.t.Helper()
	if err := wsutil.WriteClientMessage(c.nc, ws.OpText, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *wsClient) sendFrame(op ws.OpCode, payload []byte) {
	c.t.Helper()
	if err := wsutil.WriteClientMessage(c.nc, op, payload); err != nil {
		c.t.Fatal(err)
	}
}

// closedError is returned by read when the server closed the connection.
type closedError struct {
	code   ws.StatusCode
	reason string
}

func (e *closedError) Error() string { return fmt.Sprintf("closed %d %s", e.code, e.reason) }

// read returns the next data message, answering pings; a close frame
// returns *closedError.
func (c *wsClient) read(timeout time.Duration) (*schemas.ServerMessage, []byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	for {
		f, err := ws.ReadFrame(c.br)
		if err != nil {
			return nil, nil, err
		}
		switch f.Header.OpCode {
		case ws.OpPing:
			_ = wsutil.WriteClientMessage(c.nc, ws.OpPong, f.Payload)
		case ws.OpPong:
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(f.Payload)
			return nil, nil, &closedError{code, reason}
		case ws.OpText:
			var m schemas.ServerMessage
			dec := json.NewDecoder(strings.NewReader(string(f.Payload)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&m); err != nil {
				return nil, f.Payload, fmt.Errorf("undecodable server message %q: %w", f.Payload, err)
			}
			c.op = ws.OpText
			return &m, f.Payload, nil
		case ws.OpBinary:
			var m schemas.ServerMessage
			if err := schemas.DecodeBinary(f.Payload, &m); err != nil {
				return nil, f.Payload, fmt.Errorf("undecodable binary server message %x: %w", f.Payload, err)
			}
			c.op = ws.OpBinary
			return &m, f.Payload, nil
		default:
			return nil, nil, fmt.Errorf("unexpected opcode %v", f.Header.OpCode)
		}
	}
}

func (c *wsClient) next() *schemas.ServerMessage {
	c.t.Helper()
	m, _, err := c.read(5 * time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

// expectClose reads until the server's close frame and checks its code.
func (c *wsClient) expectClose(code ws.StatusCode) {
	c.t.Helper()
	for {
		_, _, err := c.read(5 * time.Second)
		if err == nil {
			continue
		}
		var ce *closedError
		if !errors.As(err, &ce) {
			c.t.Fatalf("want close %d, got %v", code, err)
		}
		if ce.code != code {
			c.t.Fatalf("close code %d (%s), want %d", ce.code, ce.reason, code)
		}
		return
	}
}

// until reads messages until one satisfies ok.
func (c *wsClient) until(ok func(*schemas.ServerMessage) bool) *schemas.ServerMessage {
	c.t.Helper()
	for {
		m := c.next()
		if ok(m) {
			return m
		}
	}
}

func instrument(sym string, ps, ss int) string {
	return fmt.Sprintf(`{"type":"instrument","symbol":%q,"ts":1767225600000000,"price_scale":%d,"size_scale":%d}`, sym, ps, ss)
}

func snapshot(sym string, seq int, bids, asks string) string {
	return fmt.Sprintf(`{"type":"snapshot","symbol":%q,"ts":1767225600000001,"seq":%d,"bids":%s,"asks":%s}`, sym, seq, bids, asks)
}

func delta(sym string, seq int, bids, asks string) string {
	return fmt.Sprintf(`{"type":"delta","symbol":%q,"ts":1767225600000002,"seq":%d,"bids":%s,"asks":%s}`, sym, seq, bids, asks)
}

func trade(sym, id, price, size, side string) string {
	return fmt.Sprintf(`{"type":"trade","symbol":%q,"ts":1767225600000003,"trade_id":%q,"price":%q,"size":%q,"side":%q}`, sym, id, price, size, side)
}
