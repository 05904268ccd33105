package fanout_test

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// bigSnapshot returns a snapshot of n levels a side whose sizes depend on v.
func bigSnapshot(sym string, seq, n, v int) string {
	var bids, asks strings.Builder
	for i := range n {
		if i > 0 {
			bids.WriteByte(',')
			asks.WriteByte(',')
		}
		fmt.Fprintf(&bids, `["%d.00","%d.000"]`, 10000-i, v+i+1)
		fmt.Fprintf(&asks, `["%d.00","%d.000"]`, 10001+i, v+i+1)
	}
	return snapshot(sym, seq, "["+bids.String()+"]", "["+asks.String()+"]")
}

func TestSlowConsumerEvicted(t *testing.T) {
	// Snapshots of ~8 KB; rounds of them are far beyond the slow client's
	// budget plus what the kernel buffers.
	const levels, rounds = 100, 1000
	s := startServer(t, fanout.Config{Transport: wsconn.Config{MaxQueueBytes: 128 << 10}})
	s.feed(instrument("BTC-USD", 2, 3), bigSnapshot("BTC-USD", 1, levels, 0))
	s.sync(t)

	slow := dial(t, s.url)
	if tc, ok := slow.nc.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096) // fill up quickly
	}
	slow.sendText(`{"op":"subscribe","channel":"book.BTC-USD","depth":100,"lag":"evict"}`)

	fast := dial(t, s.url)
	fast.sendText(`{"op":"subscribe","channel":"book.BTC-USD","depth":100}`)
	fast.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot })

	// The fast client reads raw frames, without decoding them, so that it
	// keeps up; it checks each snapshot's sequence.
	got := make(chan uint64, 1)
	var progress atomic.Uint64
	var readerDone atomic.Bool
	var readErr error
	go func() {
		last := uint64(1) // the snapshot read above
		defer readerDone.Store(true)
		_ = fast.nc.SetReadDeadline(time.Now().Add(60 * time.Second))
		for last < rounds+1 {
			f, err := ws.ReadFrame(fast.br)
			if err != nil {
				readErr = err
				break
			}
			if f.Header.OpCode == ws.OpClose {
				code, reason := ws.ParseCloseFrameData(f.Payload)
				readErr = fmt.Errorf("closed: %d %s", code, reason)
				break
			}
			if i := bytes.Index(f.Payload, []byte(`"type":"snapshot","channel":"book.BTC-USD","seq":`)); i >= 0 {
				rest := f.Payload[i+len(`"type":"snapshot","channel":"book.BTC-USD","seq":`):]
				n, _ := strconv.ParseUint(string(rest[:bytes.IndexByte(rest, ',')]), 10, 64)
				if n != last+1 {
					readErr = fmt.Errorf("snapshot %d after %d", n, last)
					break
				}
				last = n
				progress.Store(n)
			}
		}
		got <- last
	}()
	start := time.Now()
	for i := 2; i <= rounds+1; i++ {
		s.feed(bigSnapshot("BTC-USD", i, levels, i))
		// Stay a few messages ahead of the fast client, as a market that
		// a healthy client can follow; the slow one never reads.
		for progress.Load()+4 < uint64(i) && !readerDone.Load() {
			time.Sleep(50 * time.Microsecond)
		}
	}
	t.Logf("fed in %v", time.Since(start))
	if last := <-got; last != rounds+1 {
		t.Fatalf("fast client reached seq %d, want %d (%v)", last, rounds+1, readErr)
	}
	t.Logf("fast client done in %v", time.Since(start))
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(s.m.Disconnects.WithLabelValues("slow_consumer")) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("slow client was not evicted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The server has dropped the slow connection without waiting for it.
	for s.hub.ConnCount() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("connections %d, want 1", s.hub.ConnCount())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The fast client is still served.
	fast.sendText(`{"op":"ping","id":1}`)
	fast.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypePong })
}

// A client whose socket accepts nothing, and whose subscription does not
// conflate ("lag":"evict"), is disconnected once queued frames have waited
// MaxQueueAge, long before its (large) byte budget fills; a healthy client
// of the same stream is unaffected.
func TestQueueAgeEvicts(t *testing.T) {
	const levels = 100
	s := startServer(t, fanout.Config{Transport: wsconn.Config{MaxQueueBytes: 64 << 20, MaxQueueAge: 300 * time.Millisecond, SocketSendBuffer: 4096}})
	s.feed(instrument("BTC-USD", 2, 3), bigSnapshot("BTC-USD", 1, levels, 0))
	s.sync(t)

	stalled := dial(t, s.url)
	if tc, ok := stalled.nc.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	stalled.sendText(`{"op":"subscribe","channel":"book.BTC-USD","depth":100,"lag":"evict"}`)
	healthy := dial(t, s.url)
	healthy.sendText(`{"op":"subscribe","channel":"book.BTC-USD","depth":100}`)
	healthy.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot })

	// About 600 KB for the stalled client: far more than its socket
	// buffers hold, far less than its 64 MiB byte budget.
	start := time.Now()
	for i := 2; i <= 80; i++ {
		s.feed(bigSnapshot("BTC-USD", i, levels, i))
		healthy.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot && m.Seq == uint64(i) })
	}
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(s.m.Disconnects.WithLabelValues("slow_consumer")) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("stalled client was not evicted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("evicted %v after the first snapshot beyond its buffers was queued", time.Since(start))
	for s.hub.ConnCount() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("connections %d, want 1", s.hub.ConnCount())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The stalled client, reading at last, finds its connection ended.
	_ = stalled.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, err := ws.ReadFrame(stalled.br); err != nil {
			break
		}
	}
	healthy.sendText(`{"op":"ping","id":1}`)
	healthy.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypePong })
}
