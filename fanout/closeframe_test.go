package fanout_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestSlowReaderAnsweringPingsGetsCloseFrame: a client on a thin link
// (small receive window) that keeps reading, slowly, and answers every
// ping as a client must, subscribes to trades that outrun it. It is
// evicted, and what it still has to read when the server decides so (its
// kernel backlog) takes it far longer than CloseLinger to read. It must
// still reach the close frame 4001 after whole frames: the server keeps
// the socket while the client takes bytes, and a pong the client sends
// meanwhile must not reset the connection.
func TestSlowReaderAnsweringPingsGetsCloseFrame(t *testing.T) {
	const linger = 200 * time.Millisecond
	s := startServer(t, fanout.Config{Transport: wsconn.Config{
		MaxQueueBytes: 512 << 10, MaxQueueAge: time.Second, SocketSendBuffer: 16 << 10,
		PingInterval: 20 * time.Millisecond, CloseLinger: linger,
	}})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 1, roundLevels(100, 1), `[["10001.00","1.000"]]`))
	s.sync(t)
	c := dialSmallWindow(t, s.url)
	c.sendText(`{"op":"subscribe","channels":["book.BTC-USD","trades.BTC-USD"],"depth":100}`)
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a trade message of about 200 bytes every millisecond or so
		defer wg.Done()
		id := strings.Repeat("x", 50)
		for i := 2; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s.feed(trade("BTC-USD", fmt.Sprintf("%d-%s", i, id), "10000.00", "0.001", "buy"))
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	start := time.Now()
	var evictedAt time.Time
	pongs := 0
	for frames := 0; ; frames++ {
		f, err := readFrameStrict(c, 30*time.Second)
		if err != nil {
			t.Fatalf("after %d frames in %v (%d pongs sent, evicted %v before): %v", frames, time.Since(start), pongs, time.Since(evictedAt), err)
		}
		if evictedAt.IsZero() && testutil.ToFloat64(s.m.Disconnects.WithLabelValues("slow_consumer")) == 1 {
			evictedAt = time.Now()
		}
		switch f.Header.OpCode {
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(f.Payload)
			if code != schemas.CloseSlowConsumer {
				t.Fatalf("close %d %q, want %d", code, reason, schemas.CloseSlowConsumer)
			}
			if evictedAt.IsZero() || time.Since(evictedAt) < 3*linger {
				t.Fatalf("close frame read %v after the eviction was seen: the test did not outlast the linger", time.Since(evictedAt))
			}
			t.Logf("closed %d %q after %d frames, %d pongs, %v after the eviction", code, reason, frames, pongs, time.Since(evictedAt))
			return
		case ws.OpPing:
			if err := wsutil.WriteClientMessage(c.nc, ws.OpPong, f.Payload); err == nil {
				pongs++
			}
		case ws.OpText:
			if !json.Valid(f.Payload) {
				t.Fatalf("frame %d is not a whole message", frames)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}
