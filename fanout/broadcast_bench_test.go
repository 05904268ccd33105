package fanout

import (
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
)

// loopOwner is a real owner goroutine: it runs posted functions in order.
type loopOwner struct {
	ch   chan func()
	quit chan struct{}
}

func newLoopOwner() *loopOwner {
	o := &loopOwner{ch: make(chan func(), 64), quit: make(chan struct{})}
	go func() {
		for {
			select {
			case fn := <-o.ch:
				fn()
			case <-o.quit:
				return
			}
		}
	}()
	return o
}

func (o *loopOwner) Exec(fn func()) bool {
	select {
	case o.ch <- fn:
		return true
	case <-o.quit:
		return false
	}
}

// run runs fn on the owner goroutine and waits for it.
func (o *loopOwner) run(fn func()) {
	done := make(chan struct{})
	o.ch <- func() { fn(); close(done) }
	<-done
}

// BenchmarkBroadcast measures one book update (one level changed, a raw
// depth-10 stream, a frame of about 130 bytes) delivered to every
// subscriber over real loopback TCP: the encode, the lock-free enqueue on
// each connection, and the writers' vectored writes. Updates are applied in
// rounds of 32, each through the market state as the shard applies it
// (a delta record of one level, validated), and each round waits until every writer has drained, so
// the time includes the writes. allocs/op is per update to all N
// subscribers: the shared frame, nothing per subscriber.
//
// cpu-ns/delivery is the CPU time of the server's process (user and
// system, getrusage; the subscribers run in a child process) per update
// and subscriber.
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 10000} {
		benchBroadcast(b, n, false, bookBench)
	}
}

// BenchmarkBroadcastBBO is BenchmarkBroadcast for a raw bbo stream: every
// update changes the best bid's size, so each is one bbo message (about
// 150 bytes) to every subscriber. allocs/op is per update to all N
// subscribers: the shared frame, nothing per subscriber.
func BenchmarkBroadcastBBO(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		benchBroadcast(b, n, false, bboBench)
	}
}

// BenchmarkBroadcastCandles is BenchmarkBroadcast for a raw one-minute
// candles stream: every update is a trade, which changes the candle in
// progress, so each is one candles message (about 250 bytes) to every
// subscriber. allocs/op is per trade to all N subscribers: the shared
// frame, nothing per subscriber.
func BenchmarkBroadcastCandles(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		benchBroadcast(b, n, false, candlesBench)
	}
}

// broadcastStream is the stream a broadcast benchmark's subscribers take:
// their subscribe message, the stream's subscriber count, the event that
// updates it, and the subprotocol they offer ("": none, JSON).
type broadcastStream struct {
	subscribe string
	subs      func(*Streams) int
	event     func(g *Group, sym *market.Symbol, seq uint64)
	protocol  string
}

var (
	bookBench = broadcastStream{`{"op":"subscribe","channel":"book.BENCH","depth":10}`, func(t *Streams) int {
		if bs := t.bookStream(10, schemas.Raw, false); bs != nil {
			return bs.subs.len()
		}
		return 0
	}, benchDelta, ""}
	bboBench = broadcastStream{`{"op":"subscribe","channel":"bbo.BENCH"}`, func(t *Streams) int {
		if bs := t.bbo[schemas.Raw]; bs != nil {
			return bs.subs.len()
		}
		return 0
	}, benchDelta, ""}
	candlesBench = broadcastStream{`{"op":"subscribe","channel":"candles.BENCH","interval":"raw"}`, func(t *Streams) int {
		if cs := t.candles[schemas.Res1m][schemas.Raw]; cs != nil {
			return cs.subs.len()
		}
		return 0
	}, benchTrade, ""}
)

// benchDeltaRecord is the delta record benchDelta applies: the best bid's
// size, changed each time.
var benchDeltaRecord = schemas.Record{Type: schemas.RecordDelta, Symbol: []byte("BENCH"),
	Bids: []schemas.Level{{Price: []byte("64000.00"), Size: make([]byte, 0, 32)}}}

// benchDelta applies a delta record of seq to sym as a shard does and
// delivers it.
func benchDelta(g *Group, sym *market.Symbol, seq uint64) {
	r := &benchDeltaRecord
	r.Bids[0].Size = fixedpoint.Append(r.Bids[0].Size[:0], 10000+int64(seq%1000), 4)
	r.Seq, r.TS = seq, time.Now().UnixMicro()
	g.BookChanged(sym, sym.ApplyDelta(r))
}

// benchTradeRecord is the trade record benchTrade applies, its size
// changed each time.
var benchTradeRecord = schemas.Record{Type: schemas.RecordTrade, Symbol: []byte("BENCH"),
	TradeID: []byte("t"), Price: []byte("64000.00"), Size: make([]byte, 0, 32), Side: schemas.SideBuy}

// benchTrade applies a trade record to sym as a shard does and delivers it.
func benchTrade(g *Group, sym *market.Symbol, seq uint64) {
	r := &benchTradeRecord
	r.Size = fixedpoint.Append(r.Size[:0], 1+int64(seq%1000), 4)
	r.TS = time.Now().UnixMicro()
	tr, _ := sym.ApplyTrade(r)
	g.Traded(sym, tr)
}

// BenchmarkBroadcastBinary is BenchmarkBroadcast for subscribers of the
// binary subprotocol: the same updates as binary frames (about 70 bytes),
// encoded once and shared. allocs/op is per update to all N subscribers.
func BenchmarkBroadcastBinary(b *testing.B) {
	bin := bookBench
	bin.protocol = schemas.SubprotocolBinary
	for _, n := range []int{1, 100, 1000, 10000} {
		benchBroadcast(b, n, false, bin)
	}
}

// BenchmarkBroadcastTLS is BenchmarkBroadcast over TLS connections
// (TLS 1.3, AES-GCM), to compare cpu-ns/delivery with plain ones under the
// same load.
func BenchmarkBroadcastTLS(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		benchBroadcast(b, n, true, bookBench)
	}
}

// waitSubscribed waits until subs, run on the owner, says n.
func waitSubscribed(b *testing.B, owner *loopOwner, subs func() int, n int) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		var got int
		owner.run(func() { got = subs() })
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d subscribed", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cpuTime returns the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchBroadcast(b *testing.B, n int, useTLS bool, stream broadcastStream) {
	hub, err := NewHub(Config{Transport: wsconn.Config{PingInterval: time.Hour, IdleTimeout: 2 * time.Hour}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(hub)
	if useTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	defer srv.Close()
	owner := newLoopOwner()
	defer close(owner.quit)
	sym := market.NewSymbol(market.Instrument{Symbol: "BENCH", PriceScale: 2, SizeScale: 4, Tick: 1, Lot: 1}, owner, nil)
	group := hub.NewGroup()
	var topic *Streams
	owner.run(func() {
		group.Defined(sym)
		topic = hub.Streams("BENCH")
		snap := schemas.Record{Type: schemas.RecordSnapshot, Symbol: []byte("BENCH"), TS: time.Now().UnixMicro(), Seq: 1}
		for i := range int64(20) {
			snap.Bids = append(snap.Bids, schemas.Level{Price: fixedpoint.Append(nil, 6400000-i*10, 2), Size: fixedpoint.Append(nil, 10000+i, 4)})
			snap.Asks = append(snap.Asks, schemas.Level{Price: fixedpoint.Append(nil, 6400010+i*10, 2), Size: fixedpoint.Append(nil, 10000+i, 4)})
		}
		group.BookChanged(sym, sym.ApplySnapshot(&snap))
	})

	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws" // wss for https
	sk := startSink(b, url, n, stream.subscribe, stream.protocol)
	defer sk.stop()
	waitSubscribed(b, owner, func() int { return stream.subs(topic) }, n)
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
	drain()

	const round = 32
	seq := uint64(1)
	var todo int
	update := func() {
		for range todo {
			seq++
			stream.event(group, sym, seq)
		}
	}
	b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := cpuTime()
		for done := 0; done < b.N; done += round {
			todo = min(round, b.N-done)
			owner.run(update)
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
