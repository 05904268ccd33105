package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/oracle"
	"github.com/marketfeed/marketfeed/internal/producer"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
	"github.com/segmentio/kafka-go"
	"github.com/shopspring/decimal"
)

// env is a broker, a server consuming it, and a writer producing into it.
type env struct {
	broker *broker.Broker
	srv    *server.Server
	writer *kafka.Writer
	url    string
}

func startEnv(t *testing.T, partitions int) *env {
	t.Helper()
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	srv, _ := runServer(t, server.Config{Feed: feed.Config{Brokers: b.Addrs(), Topic: b.Topic(), Start: feed.StartEarliest}})
	w := newWriter(b)
	t.Cleanup(func() { w.Close() })
	return &env{broker: b, srv: srv, writer: w, url: "ws://" + srv.Addr() + "/ws"}
}

// newWriter returns a kafka-go writer producing keyed records into b.
func newWriter(b *broker.Broker) *kafka.Writer {
	return producer.MustNewWriter(producer.Config{Brokers: b.Addrs(), Topic: b.Topic()})
}

func (e *env) produce(t *testing.T, msgs []sim.Message) {
	t.Helper()
	km := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		km[i] = kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.writer.WriteMessages(ctx, km...); err != nil {
		t.Fatal(err)
	}
}

// waitLive waits until every symbol's book is served.
func (e *env) waitLive(t *testing.T, symbols []string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		live := 0
		for _, sym := range symbols {
			if tp := e.srv.Hub().Streams(sym); tp != nil {
				if st, _ := tp.State(); st == market.Live {
					live++
				}
			}
		}
		if live == len(symbols) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d symbols live", live, len(symbols))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// view is a client's book as of one received message.
type view struct {
	seq        uint64
	bids, asks [][2]string
}

// bookWatcher subscribes to one book channel and records its view after
// every message until the view reaches final.
type bookWatcher struct {
	channel  string
	depth    int
	interval string
	views    []view
	err      error
}

func (w *bookWatcher) run(ctx context.Context, url string, final func() uint64, ready *sync.WaitGroup) {
	conn, err := client.Dial(ctx, url, client.Options{})
	if err != nil {
		w.err = err
		ready.Done()
		return
	}
	defer conn.Close()
	if err := conn.Subscribe(1, []string{w.channel}, w.depth, w.interval); err != nil {
		w.err = err
		ready.Done()
		return
	}
	book := client.NewBook(w.channel)
	signalled := false
	for {
		m, err := conn.Next(ctx)
		if err != nil {
			w.err = fmt.Errorf("%s depth %d %s: %w", w.channel, w.depth, w.interval, err)
			if !signalled {
				ready.Done()
			}
			return
		}
		if m.Channel != w.channel || (m.Type != schemas.TypeSnapshot && m.Type != schemas.TypeUpdate) {
			continue
		}
		if err := book.Apply(m); err != nil {
			w.err = fmt.Errorf("%s depth %d %s: %w", w.channel, w.depth, w.interval, err)
			return
		}
		w.views = append(w.views, view{seq: book.Seq(), bids: book.Bids(), asks: book.Asks()})
		if !signalled {
			signalled = true
			ready.Done()
		}
		if f := final(); f != 0 && book.Seq() >= f {
			return
		}
	}
}

// refRecord is the reference's own decoding of a Kafka record.
type refRecord struct {
	Type       string      `json:"type"`
	Symbol     string      `json:"symbol"`
	TS         int64       `json:"ts"`
	Seq        uint64      `json:"seq"`
	PriceScale int         `json:"price_scale"`
	SizeScale  int         `json:"size_scale"`
	Bids       [][2]string `json:"bids"`
	Asks       [][2]string `json:"asks"`
	TradeID    string      `json:"trade_id"`
	Price      string      `json:"price"`
	Size       string      `json:"size"`
	Side       string      `json:"side"`
}

// replay is an independent replay of the produced records: decimals go
// through shopspring/decimal, books through the reference map book.
type replay struct {
	scale  map[string][2]int
	books  map[string]*oracle.Book
	seq    map[string]uint64
	views  map[string]map[uint64]view // symbol → seq → top maxDepth
	ticker map[string]*oracle.Ticker
	trades map[string][]schemas.TradeMessage
	maxTS  map[string]int64 // newest exchange time of the symbol's book and trade records
	first  map[string]int64 // exchange time of the symbol's first book or trade record
	depth  int
}

func mantissa(s string, scale int) int64 {
	return decimal.RequireFromString(s).Shift(int32(scale)).IntPart()
}

func format(v int64, scale int) string {
	return decimal.New(v, -int32(scale)).StringFixed(int32(scale))
}

func newReplay(depth int) *replay {
	return &replay{
		scale: map[string][2]int{}, books: map[string]*oracle.Book{}, seq: map[string]uint64{},
		views: map[string]map[uint64]view{}, ticker: map[string]*oracle.Ticker{},
		trades: map[string][]schemas.TradeMessage{}, maxTS: map[string]int64{}, first: map[string]int64{}, depth: depth,
	}
}

func (r *replay) apply(t testing.TB, value []byte) {
	var rec refRecord
	if err := json.Unmarshal(value, &rec); err != nil {
		t.Fatalf("reference cannot decode %s: %v", value, err)
	}
	sym := rec.Symbol
	switch rec.Type {
	case "instrument":
		r.scale[sym] = [2]int{rec.PriceScale, rec.SizeScale}
		if r.books[sym] == nil {
			r.books[sym] = oracle.NewBook()
			r.views[sym] = map[uint64]view{}
			r.ticker[sym] = &oracle.Ticker{PriceScale: rec.PriceScale, SizeScale: rec.SizeScale}
		}
		return
	}
	r.maxTS[sym] = max(r.maxTS[sym], rec.TS)
	if _, ok := r.first[sym]; !ok {
		r.first[sym] = rec.TS
	}
	switch rec.Type {
	case "snapshot":
		r.books[sym].Reset()
		fallthrough
	case "delta":
		sc := r.scale[sym]
		for _, l := range rec.Bids {
			r.books[sym].Set(true, mantissa(l[0], sc[0]), mantissa(l[1], sc[1]))
		}
		for _, l := range rec.Asks {
			r.books[sym].Set(false, mantissa(l[0], sc[0]), mantissa(l[1], sc[1]))
		}
		r.seq[sym] = rec.Seq
		r.views[sym][rec.Seq] = r.top(sym, r.depth)
	case "trade":
		sc := r.scale[sym]
		r.ticker[sym].Add(rec.TS, mantissa(rec.Price, sc[0]), mantissa(rec.Size, sc[1]))
		r.trades[sym] = append(r.trades[sym], schemas.TradeMessage{
			ID: rec.TradeID, TS: rec.TS, Side: rec.Side,
			Price: decimal.RequireFromString(rec.Price).StringFixed(int32(sc[0])),
			Size:  decimal.RequireFromString(rec.Size).StringFixed(int32(sc[1])),
		})
	}
}

func (r *replay) top(sym string, depth int) view {
	sc := r.scale[sym]
	v := view{seq: r.seq[sym]}
	for _, l := range r.books[sym].Top(true, depth) {
		v.bids = append(v.bids, [2]string{format(l[0], sc[0]), format(l[1], sc[1])})
	}
	for _, l := range r.books[sym].Top(false, depth) {
		v.asks = append(v.asks, [2]string{format(l[0], sc[0]), format(l[1], sc[1])})
	}
	return v
}

func truncate(v view, depth int) view {
	if len(v.bids) > depth {
		v.bids = v.bids[:depth]
	}
	if len(v.asks) > depth {
		v.asks = v.asks[:depth]
	}
	return v
}

// TestEndToEnd produces a synthetic market into the broker with kafka-go,
// and checks that WebSocket clients of every depth and interval rebuild,
// at every sequence they receive, exactly the book an independent replay
// of the same records computes; and that trades and tickers match exactly.
func TestEndToEnd(t *testing.T) {
	e := startEnv(t, 3)
	ex := sim.New(sim.Config{Symbols: 4, Seed: 42})
	symbols := ex.Symbols()
	now := time.Now()
	rep := newReplay(100)

	// Phase 1: definitions and snapshots, then clients subscribe.
	boot := ex.Snapshots(now, nil)
	for _, m := range boot {
		rep.apply(t, m.Value)
	}
	e.produce(t, boot)
	e.waitLive(t, symbols)

	var (
		mu    sync.Mutex
		final = map[string]uint64{}
	)
	finalOf := func(sym string) func() uint64 {
		return func() uint64 { mu.Lock(); defer mu.Unlock(); return final[sym] }
	}
	var watchers []*bookWatcher
	for _, sym := range symbols[:2] {
		for _, d := range []int{1, 5, 20, 100} {
			watchers = append(watchers, &bookWatcher{channel: "book." + sym, depth: d, interval: "raw"})
		}
		watchers = append(watchers,
			&bookWatcher{channel: "book." + sym, depth: 10, interval: "100ms"},
			&bookWatcher{channel: "book." + sym, depth: 50, interval: "1s"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var ready, wg sync.WaitGroup
	for _, w := range watchers {
		ready.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, e.url, finalOf(w.channel[len("book."):]), &ready)
		}()
	}
	tradesConn, err := client.Dial(ctx, e.url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tradesConn.Close()
	if err := tradesConn.Subscribe(1, []string{"trades." + symbols[0], "ticker." + symbols[0]}, 0, "raw"); err != nil {
		t.Fatal(err)
	}
	acks := 0
	for acks < 2 {
		m, err := tradesConn.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == schemas.TypeSubscribed {
			acks++
		}
	}
	ready.Wait()

	// Phase 2: a few thousand events with periodic snapshots, produced in
	// chunks while the clients stream.
	start := map[string]int{}
	for _, sym := range symbols {
		start[sym] = len(rep.trades[sym])
	}
	var batch []sim.Message
	for i := range 3000 {
		now = now.Add(time.Millisecond)
		batch = ex.Next(now, batch)
		if i%1000 == 999 {
			batch = ex.Snapshots(now, batch)
		}
		if len(batch) >= 200 {
			for _, m := range batch {
				rep.apply(t, m.Value)
			}
			e.produce(t, batch)
			batch = batch[:0]
		}
	}
	for _, m := range batch {
		rep.apply(t, m.Value)
	}
	// A last delta per symbol that every view holds (its best bid), so
	// that every stream, at every depth, sends a message at the final seq.
	for _, sym := range symbols {
		now = now.Add(time.Millisecond)
		batch = append(batch, touchDelta(rep, sym, now)...)
		rep.apply(t, batch[len(batch)-1].Value)
	}
	// The final seqs are known before the last records go out: a watcher
	// may receive its last message before produce returns.
	mu.Lock()
	for _, sym := range symbols {
		final[sym] = rep.seq[sym]
	}
	mu.Unlock()
	e.produce(t, batch)

	// Trades and ticker of symbols[0].
	wantTrades := rep.trades[symbols[0]][start[symbols[0]]:]
	var gotTrades []schemas.TradeMessage
	var lastTicker *schemas.ServerMessage
	for len(gotTrades) < len(wantTrades) {
		m, err := tradesConn.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d trades: %v", len(gotTrades), len(wantTrades), err)
		}
		switch m.Type {
		case schemas.TypeTrades:
			gotTrades = append(gotTrades, m.Trades...)
		case schemas.TypeTicker:
			lastTicker = m
		}
	}
	if !reflect.DeepEqual(gotTrades, wantTrades) {
		t.Errorf("trades differ: got %d, want %d", len(gotTrades), len(wantTrades))
	}
	wg.Wait()

	checked := checkReplayViews(t, watchers, rep)
	t.Logf("%d client views checked against the reference", checked)

	// The ticker: drain until the book has settled, then compare the last
	// state with a fresh subscription's initial ticker and the reference.
	fresh, err := client.Dial(ctx, e.url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if err := fresh.Subscribe(2, []string{"ticker." + symbols[0]}, 0, ""); err != nil {
		t.Fatal(err)
	}
	var tick *schemas.ServerMessage
	for tick == nil {
		m, err := fresh.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == schemas.TypeTicker {
			tick = m
		}
	}
	checkTicker(t, rep, symbols[0], tick)
	if lastTicker == nil {
		t.Fatal("no ticker received during the run")
	}
}

func checkTicker(t *testing.T, rep *replay, sym string, got *schemas.ServerMessage) {
	t.Helper()
	sc := rep.scale[sym]
	top := rep.top(sym, 1)
	st := rep.ticker[sym].Stats(rep.maxTS[sym])
	want := schemas.ServerMessage{
		Bid: top.bids[0][0], BidSize: top.bids[0][1], Ask: top.asks[0][0], AskSize: top.asks[0][1],
	}
	if st.HasLast {
		want.Last, want.LastSize = format(st.Last, sc[0]), format(st.LastSize, sc[1])
	}
	if st.Count > 0 {
		want.Open, want.High, want.Low = format(st.Open, sc[0]), format(st.High, sc[0]), format(st.Low, sc[0])
		want.Volume = st.Volume.StringFixed(int32(sc[1]))
		want.QuoteVolume = st.QuoteVolume.StringFixed(int32(sc[0] + sc[1]))
		want.VWAP = st.VWAP.StringFixed(int32(sc[0]))
		want.Change = st.Change.StringFixed(int32(sc[0]))
		if st.Open != 0 { // 100 × change / open is undefined at open 0
			want.ChangePct = st.ChangePct.StringFixed(2)
		}
		want.Count = st.Count
	}
	// The statistics cover the window from the first record read.
	const minute = 60_000_000
	want.WindowStart = max(rep.first[sym], (rep.maxTS[sym]/minute-1439)*minute)
	g := *got
	g.Type, g.Channel, g.TS = "", "", 0
	if !reflect.DeepEqual(g, want) {
		t.Errorf("ticker:\n got %+v\nwant %+v", g, want)
	}
}

// checkReplayViews requires every view each watcher held to equal the replay's
// view at its seq and depth, and each watcher to end at the replay's last
// seq of its symbol. It returns how many views it checked.
func checkReplayViews(t *testing.T, watchers []*bookWatcher, rep *replay) int {
	t.Helper()
	checked := 0
	for _, w := range watchers {
		if w.err != nil {
			t.Errorf("watcher: %v", w.err)
			continue
		}
		sym := w.channel[len("book."):]
		for vi, v := range w.views {
			want, ok := rep.views[sym][v.seq]
			if !ok {
				t.Fatalf("%s depth %d: client at seq %d, which the reference never reached", w.channel, w.depth, v.seq)
			}
			want = truncate(want, w.depth)
			if !reflect.DeepEqual(v.bids, want.bids) || !reflect.DeepEqual(v.asks, want.asks) {
				t.Fatalf("%s depth %d %s view %d/%d at seq %d (last %d):\n got bids %v asks %v\nwant bids %v asks %v",
					w.channel, w.depth, w.interval, vi, len(w.views), v.seq, rep.seq[sym], v.bids, v.asks, want.bids, want.asks)
			}
			checked++
		}
		if last := w.views[len(w.views)-1].seq; last != rep.seq[sym] {
			t.Errorf("%s depth %d %s ended at seq %d, want %d", w.channel, w.depth, w.interval, last, rep.seq[sym])
		}
	}
	return checked
}
