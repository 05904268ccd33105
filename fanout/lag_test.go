package fanout_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// roundLevels returns n bid levels whose sizes depend on round v.
func roundLevels(n, v int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `["%d.00","%d.000"]`, 10000-i, v+i+1)
	}
	b.WriteByte(']')
	return b.String()
}

// TestLagSnapshot has a client with "lag":"snapshot" stop reading while its
// book changes fast. It is not evicted: its queue is dropped and its
// subscription restarts from a fresh snapshot, and what it receives is
// consistent: contiguous updates, a snapshot, contiguous updates, and
// every snapshot holds the book of its seq; its bbo subscription of the
// same book skips ahead too, and every bbo holds the top of its seq.
func TestLagSnapshot(t *testing.T) { testLagSnapshot(t) }

// TestLagSnapshotBinary is TestLagSnapshot for a client of the binary
// subprotocol: the same conflation, in binary frames.
func TestLagSnapshotBinary(t *testing.T) { testLagSnapshot(t, schemas.SubprotocolBinary) }

func testLagSnapshot(t *testing.T, protocols ...string) {
	const levels, rounds = 100, 2000
	s := startServer(t, fanout.Config{Transport: wsconn.Config{MaxQueueBytes: 64 << 10, WriteTimeout: 20 * time.Second}})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 1, roundLevels(levels, 1), `[["10001.00","1.000"]]`))
	s.sync(t)

	c := dialSmallWindow(t, s.url, protocols...)
	c.sendText(`{"op":"subscribe","channels":["book.BTC-USD","bbo.BTC-USD"],"depth":100,"lag":"snapshot"}`)
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot })

	// The client reads nothing until the book has changed rounds times
	// (about 8 MB of updates, beyond its queue budget and what the kernel
	// buffers), then reads everything and records it.
	type msg struct {
		typ          string
		first, seq   uint64
		firstBidSize string
		levels       int
	}
	got := make(chan msg, rounds*2)
	bbos := make(chan lagBBO, rounds*2)
	errc := make(chan error, 1)
	fed := make(chan struct{})
	go func() {
		<-fed
		bookDone, bboDone := false, false
		for !bookDone || !bboDone {
			m, _, err := c.read(30 * time.Second)
			if err != nil {
				errc <- err
				return
			}
			if m.Type == schemas.TypeBBO {
				bbos <- lagBBO{m.Seq, m.BidSize}
				bboDone = m.Seq == rounds+1
				continue
			}
			if m.Channel != "book.BTC-USD" {
				continue
			}
			if want := map[bool]ws.OpCode{false: ws.OpText, true: ws.OpBinary}[len(protocols) > 0]; c.op != want {
				errc <- fmt.Errorf("%s in opcode %v, want %v", m.Type, c.op, want)
				return
			}
			r := msg{typ: m.Type, first: m.FirstSeq, seq: m.Seq, levels: len(m.Bids)}
			if len(m.Bids) > 0 {
				r.firstBidSize = m.Bids[0][1]
			}
			got <- r
			bookDone = m.Seq == rounds+1
		}
		errc <- nil
	}()
	for i := 2; i <= rounds+1; i++ {
		s.feed(delta("BTC-USD", i, roundLevels(levels, i), "[]"))
		if i%100 == 0 {
			s.sync(t)
		}
	}
	s.sync(t)
	close(fed)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("slow client: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("slow client did not reach the last seq")
	}
	close(got)
	close(bbos)

	if n := testutil.ToFloat64(s.m.Disconnects.WithLabelValues("slow_consumer")); n != 0 {
		t.Fatalf("%v slow-consumer evictions, want none", n)
	}
	if n := testutil.ToFloat64(s.m.LagSnapshots); n < 1 {
		t.Fatal("the client never lagged; the test did not exercise the policy")
	}
	last, snaps, updates := uint64(1), 0, 0
	for m := range got {
		switch m.typ {
		case schemas.TypeSnapshot:
			snaps++
			if m.seq <= last {
				t.Fatalf("snapshot at seq %d after seq %d", m.seq, last)
			}
			// Round v sets the best bid's size to v+1 (scale 3).
			if want := fmt.Sprintf("%d.000", m.seq+1); m.firstBidSize != want || m.levels != levels {
				t.Fatalf("snapshot at seq %d: best bid size %s with %d levels, want %s with %d", m.seq, m.firstBidSize, m.levels, want, levels)
			}
		case schemas.TypeUpdate:
			updates++
			if m.first != last+1 {
				t.Fatalf("update %d-%d after seq %d: a gap", m.first, m.seq, last)
			}
		default:
			t.Fatalf("unexpected %s", m.typ)
		}
		last = m.seq
	}
	t.Logf("%d skip-aheads; the client saw %d snapshots and %d updates", int(testutil.ToFloat64(s.m.LagSnapshots)), snaps, updates)
	if snaps < 1 {
		t.Fatal("no snapshot after the drop")
	}
	checkLagBBO(t, bbos, rounds)
	// The connection is still served.
	c.sendText(`{"op":"ping","id":7}`)
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypePong })
}

// lagBBO is a bbo message of TestLagSnapshot: its seq and best bid size.
type lagBBO struct {
	seq     uint64
	bidSize string
}

// checkLagBBO checks the bbo messages of TestLagSnapshot: every round
// changes the best bid's size, so a raw bbo per round until the drop, then
// the top at the seq of the skip-ahead; each holds the top of its seq.
func checkLagBBO(t *testing.T, bbos <-chan lagBBO, rounds int) {
	t.Helper()
	var prev uint64
	n := 0
	for b := range bbos {
		seq, size := b.seq, b.bidSize
		if seq <= prev || size != fmt.Sprintf("%d.000", seq+1) {
			t.Fatalf("bbo at seq %d (after %d): best bid size %s", seq, prev, size)
		}
		prev, n = seq, n+1
	}
	if n >= rounds {
		t.Fatalf("%d bbo messages for %d rounds: the bbo never skipped ahead", n, rounds)
	}
}

// dialSmallWindow connects like dial, with a receive buffer of 8 KiB set
// before the handshake (so that the advertised window matches it), so the
// server's backlog builds up in its own queue rather than in the kernel;
// it offers the given subprotocols, if any.
func dialSmallWindow(t *testing.T, url string, protocols ...string) *wsClient {
	t.Helper()
	d := ws.Dialer{Protocols: protocols, NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8192)
			})
			if err != nil {
				return err
			}
			return serr
		}}
		return nd.DialContext(ctx, network, addr)
	}}
	return dialWith(t, d, url)
}
