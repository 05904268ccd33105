package server_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/marketfeed/marketfeed/internal/oracle"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/schemas"
)

// The candles market: one symbol at price scale 2 and size scale 8 whose
// trades start on a day boundary.
const (
	candleSym = "CNDL-USD"
	candleT0  = int64(1767225600000000) // 2026-01-01T00:00:00Z
	minuteUS  = int64(60_000_000)
	// candleEnd is the time of the last record, which closes every candle
	// but the day's.
	candleEnd = candleT0 + 2*60*minuteUS
)

func candleRecord(ts int64, body string) sim.Message {
	return sim.Message{Key: []byte(candleSym), Time: time.Now(),
		Value: fmt.Appendf(nil, `{"symbol":%q,"ts":%d,%s}`, candleSym, ts, body)}
}

// candleTrades returns the market's trades: trades exactly at the
// boundaries of every resolution and on the last µs before one, a minute
// with no trade, sizes and prices whose products overflow 64 bits, and a
// random walk over seventy minutes.
func candleTrades() []oracle.CandleTrade {
	tr := []oracle.CandleTrade{
		{TS: candleT0, Price: "100.00", Size: "1.50000000"},
		{TS: candleT0 + minuteUS - 1, Price: "101.25", Size: "0.00000001"},
		{TS: candleT0 + minuteUS, Price: "99.99", Size: "2.00000000"}, // alone in its minute
		// minute 2 has no trade
		{TS: candleT0 + 3*minuteUS + 500, Price: "9999999.99", Size: "50000000.00000000"},
		{TS: candleT0 + 3*minuteUS + 501, Price: "9999999.99", Size: "50000000.00000000"},
	}
	r := rand.New(rand.NewPCG(17, 4))
	price := int64(10_000)
	ts := candleT0 + 4*minuteUS
	for ts < candleT0+70*minuteUS {
		price = max(1, price+r.Int64N(41)-20)
		tr = append(tr, oracle.CandleTrade{TS: ts, Price: fixedpoint.Format(price, 2), Size: fixedpoint.Format(1+r.Int64N(300_000_000), 8)})
		ts += r.Int64N(40_000_000)
		for _, b := range []int64{5 * minuteUS, 15 * minuteUS, 60 * minuteUS} {
			if next := (ts/b + 1) * b; ts < next && next-ts < 40_000_000 && r.IntN(2) == 0 {
				ts = next // exactly on the boundary
			}
		}
	}
	return tr
}

func candleMessages(trades []oracle.CandleTrade) (head, body []sim.Message) {
	head = []sim.Message{
		candleRecord(candleT0-2_000_000, `"type":"instrument","price_scale":2,"size_scale":8`),
		candleRecord(candleT0-1_000_000, `"type":"snapshot","seq":1,"bids":[["99.00","1"]],"asks":[["101.00","1"]]`),
	}
	for i, tr := range trades {
		body = append(body, candleRecord(tr.TS, fmt.Sprintf(`"type":"trade","trade_id":"t%d","price":%q,"size":%q,"side":"buy"`, i, tr.Price, tr.Size)))
	}
	body = append(body, candleRecord(candleEnd, `"type":"snapshot","seq":1,"bids":[["99.00","1"]],"asks":[["101.00","1"]]`))
	return head, body
}

// candleWatcher holds a candles subscription and keeps the candles it
// received by start, checking that a final candle never changes.
type candleWatcher struct {
	res, interval string
	mu            sync.Mutex
	held          map[int64]schemas.CandleMessage
	snapshots     int
	windowStart   int64
	err           error
}

func (w *candleWatcher) run(ctx context.Context, url string, ready *sync.WaitGroup) {
	c, err := client.Dial(ctx, url, client.Options{})
	if err != nil {
		w.fail(err)
		ready.Done()
		return
	}
	defer c.Close()
	if err := c.SubscribeWith(1, []string{"candles." + candleSym}, client.SubscribeOptions{Interval: w.interval, Resolution: w.res}); err != nil {
		w.fail(err)
		ready.Done()
		return
	}
	for first := true; ; first = false {
		m, err := c.Next(ctx)
		if errors.Is(err, context.Canceled) {
			return
		}
		if err == nil && first && (m.Type != schemas.TypeSubscribed || m.Resolution != w.res) {
			err = fmt.Errorf("first message %+v", m)
		}
		if err == nil && m.Type == schemas.TypeCandles {
			err = w.apply(m)
		}
		if first {
			ready.Done()
		}
		if err != nil {
			w.fail(err)
			return
		}
	}
}

func (w *candleWatcher) fail(err error) {
	w.mu.Lock()
	w.err = fmt.Errorf("candles %s %s: %w", w.res, w.interval, err)
	w.mu.Unlock()
}

// apply keeps the candles of m: a snapshot replaces them all.
func (w *candleWatcher) apply(m *schemas.ServerMessage) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if m.Resolution != w.res || m.Channel != "candles."+candleSym {
		return fmt.Errorf("message of %s %s", m.Channel, m.Resolution)
	}
	if m.Snapshot {
		w.held = map[int64]schemas.CandleMessage{}
		w.snapshots++
	} else if w.held == nil {
		return errors.New("candles before the snapshot")
	}
	w.windowStart = m.WindowStart
	for _, c := range m.Candles {
		if old, ok := w.held[c.Start]; ok && old.Final && old != c {
			return fmt.Errorf("final candle %d changed: %+v then %+v", c.Start, old, c)
		}
		w.held[c.Start] = c
	}
	return nil
}

// matches reports whether the watcher holds want (the candles closed at
// the end final, the day's in progress).
func (w *candleWatcher) matches(want []oracle.RefCandle) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if len(w.held) != len(want) {
		return fmt.Errorf("%s: %d candles, want %d", w.res, len(w.held), len(want))
	}
	return sameCandles(w.res, w.held, want)
}

func sameCandles(res string, held map[int64]schemas.CandleMessage, want []oracle.RefCandle) error {
	r, _ := schemas.ParseResolution(res)
	for _, c := range want {
		final := c.Start+r.Micros() <= candleEnd
		exp := schemas.CandleMessage{Start: c.Start, Open: c.Open, High: c.High, Low: c.Low, Close: c.Close,
			Volume: c.Volume, QuoteVolume: c.QuoteVolume, Count: c.Count, Final: final}
		if got := held[c.Start]; got != exp {
			return fmt.Errorf("%s candle at %d: got %+v, want %+v", res, c.Start, got, exp)
		}
	}
	return nil
}

// refCandles is the independent computation of every resolution's
// candles from the trades.
func refCandles(trades []oracle.CandleTrade) map[string][]oracle.RefCandle {
	ref := map[string][]oracle.RefCandle{}
	for r := range schemas.NumResolutions {
		ref[r.String()] = oracle.Candles(trades, r.Micros(), 2, 8)
	}
	return ref
}

// awaitCandles waits until every watcher holds its resolution's candles.
func awaitCandles(t *testing.T, ws []*candleWatcher, ref map[string][]oracle.RefCandle) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, w := range ws {
		for {
			err := w.matches(ref[w.res])
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func watchCandles(ctx context.Context, url string, specs [][2]string) []*candleWatcher {
	var ready sync.WaitGroup
	var ws []*candleWatcher
	for _, s := range specs {
		w := &candleWatcher{res: s[0], interval: s[1]}
		ws = append(ws, w)
		ready.Add(1)
		go w.run(ctx, url, &ready)
	}
	ready.Wait()
	return ws
}

// candlesSnapshot returns the first candles message of a new candles
// subscription at res.
func candlesSnapshot(ctx context.Context, t *testing.T, url, res string) *schemas.ServerMessage {
	t.Helper()
	c, err := client.Dial(ctx, url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SubscribeWith(1, []string{"candles." + candleSym}, client.SubscribeOptions{Resolution: res}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == schemas.TypeCandles {
			return m
		}
	}
}

// TestCandlesFollowTheTrades streams a market's trades to candles
// subscriptions of every resolution at every interval and checks that
// what each holds equals an independent computation from the trades:
// candles on UTC boundaries (a trade exactly at a boundary opens the next
// candle), none for a minute without trades, exact decimals beyond 64
// bits, closed candles final and never changed. A new server reading the
// same topic rebuilds the same candles, and a subscriber's snapshot holds
// them all, with the window the server read.
func TestCandlesFollowTheTrades(t *testing.T) {
	e := startEnv(t, 2)
	trades := candleTrades()
	ref := refCandles(trades)
	if m := ref["1m"]; m[1].Start != candleT0+minuteUS || m[1].Count != 1 || m[2].Start != candleT0+3*minuteUS {
		t.Fatalf("the trades lack a lone boundary trade or an empty minute: %+v", m[:3])
	}
	head, body := candleMessages(trades)
	e.produce(t, head)
	e.waitLive(t, []string{candleSym})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ws := watchCandles(ctx, e.url, [][2]string{{"1m", "raw"}, {"5m", "100ms"}, {"15m", "raw"}, {"1h", "1s"}, {"1d", ""}, {"1m", "1s"}})
	for i := 0; i < len(body); i += 50 {
		e.produce(t, body[i:min(i+50, len(body))])
	}
	awaitCandles(t, ws, ref)
	for _, w := range ws {
		if w.snapshots != 1 || w.windowStart != candleT0-1_000_000 {
			t.Errorf("%s %s: %d snapshots, window_start %d", w.res, w.interval, w.snapshots, w.windowStart)
		}
	}
	cancel()

	// A new server reads the topic from its look-back start.
	b := runFeedServer(t, feed.Config{Brokers: e.broker.Addrs(), Start: feed.StartLookback, Lookback: time.Minute})
	waitLiveOn(t, b.srv, []string{candleSym}, 20*time.Second)
	ctx, cancel = context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	awaitCandles(t, watchCandles(ctx, b.url, [][2]string{{"1m", "raw"}, {"1h", "100ms"}}), ref)
	for _, res := range []string{"1m", "5m", "1d"} {
		m := candlesSnapshot(ctx, t, b.url, res)
		held := map[int64]schemas.CandleMessage{}
		for _, c := range m.Candles {
			held[c.Start] = c
		}
		if !m.Snapshot || m.WindowStart != candleT0-1_000_000 || len(held) != len(ref[res]) {
			t.Fatalf("restart snapshot %s: snapshot %v, window_start %d, %d candles (want %d)", res, m.Snapshot, m.WindowStart, len(held), len(ref[res]))
		}
		if err := sameCandles(res, held, ref[res]); err != nil {
			t.Fatalf("restart: %v", err)
		}
	}
	t.Logf("%d trades; %d one-minute candles", len(trades), len(ref["1m"]))
}
