package fanout

import (
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
)

// BenchmarkBroadcastTickers measures one message of the tickers channel
// (the tickers of 20 symbols, about 4 KB) delivered to every subscriber
// over real loopback TCP: the board's flush reads the published tickers,
// encodes one frame for the subscribers' common set of symbols and queues
// the shared bytes on each connection; the writers' vectored writes are
// included (each round of 8 messages waits until every writer has
// drained). allocs/op is per message to all N subscribers: the flush's
// own bookkeeping and the shared frame, nothing per subscriber.
func BenchmarkBroadcastTickers(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		benchBroadcastTickers(b, n)
	}
}

// benchSymbols defines n symbols on owner with a served book each and
// returns their streams' group.
func benchSymbols(hub *Hub, owner *loopOwner, n int) *Group {
	group := hub.NewGroup()
	owner.run(func() {
		for i := range n {
			name := fmt.Sprintf("B%02d-USD", i)
			sym := market.NewSymbol(market.Instrument{Symbol: name, PriceScale: 2, SizeScale: 4, Tick: 1, Lot: 1}, owner, nil)
			group.Defined(sym)
			snap := schemas.Record{Type: schemas.RecordSnapshot, Symbol: []byte(name), TS: time.Now().UnixMicro(), Seq: 1}
			for j := range int64(5) {
				snap.Bids = append(snap.Bids, schemas.Level{Price: fixedpoint.Append(nil, 6400000-j*10, 2), Size: fixedpoint.Append(nil, 10000+j, 4)})
				snap.Asks = append(snap.Asks, schemas.Level{Price: fixedpoint.Append(nil, 6400010+j*10, 2), Size: fixedpoint.Append(nil, 10000+j, 4)})
			}
			group.BookChanged(sym, sym.ApplySnapshot(&snap))
			tr := schemas.Record{Type: schemas.RecordTrade, Symbol: []byte(name), TS: time.Now().UnixMicro(),
				TradeID: []byte("1"), Price: []byte("64000.00"), Size: []byte("1.5000"), Side: schemas.SideBuy}
			t, _ := sym.ApplyTrade(&tr)
			group.Traded(sym, t)
		}
	})
	return group
}

func benchBroadcastTickers(b *testing.B, n int) {
	hub, err := NewHub(Config{Transport: wsconn.Config{PingInterval: time.Hour, IdleTimeout: 2 * time.Hour}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(hub)
	defer srv.Close()
	owner := newLoopOwner()
	defer close(owner.quit)
	group := benchSymbols(hub, owner, 20)

	sk := startSink(b, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", n, `{"op":"subscribe","channel":"tickers","interval":"100ms"}`)
	defer sk.stop()
	for deadline := time.Now().Add(60 * time.Second); hub.board.active.Load() != int64(n); {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d subscribed", hub.board.active.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	hub.boardStop() // the benchmark flushes
	owner.run(group.Tick)
	hub.mu.RLock()
	conns := make([]*Conn, 0, n)
	for c := range hub.conns {
		conns = append(conns, c)
	}
	hub.mu.RUnlock()
	drain := func() {
		for _, c := range conns {
			for c.ws.Queued() != 0 {
				runtime.Gosched()
			}
		}
	}
	hub.flushTickers(schemas.Every100ms) // the sessions' answers cached
	drain()

	const round = 8
	b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := cpuTime()
		for done := 0; done < b.N; done += round {
			for range min(round, b.N-done) {
				hub.flushTickers(schemas.Every100ms)
			}
			drain()
		}
		b.StopTimer()
		cpu := cpuTime() - cpu0
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/delivery")
		for _, c := range conns {
			if c.ws.Closing() {
				b.Fatal("a subscriber was disconnected")
			}
		}
	})
}
