package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/producer"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
	"github.com/segmentio/kafka-go"
)

// tradeTape writes one symbol's trades into a broker, numbered t1, t2...
// at increasing exchange times, and remembers them.
type tradeTape struct {
	t      testing.TB
	b      *broker.Broker // the broker written to (benchmarks)
	w      *kafka.Writer
	symbol string
	base   int64 // exchange time of trade 0, µs
	n      int
	mu     sync.Mutex
}

func newTradeTape(t testing.TB, b *broker.Broker, symbol string, base time.Time) *tradeTape {
	w := producer.MustNewWriter(producer.Config{Brokers: b.Addrs(), Topic: b.Topic()})
	t.Cleanup(func() { w.Close() })
	tp := &tradeTape{t: t, b: b, w: w, symbol: symbol, base: base.UnixMicro()}
	tp.write(fmt.Sprintf(`{"type":"instrument","symbol":%q,"ts":%d,"price_scale":2,"size_scale":3}`, symbol, tp.base),
		fmt.Sprintf(`{"type":"snapshot","symbol":%q,"ts":%d,"seq":1,"bids":[["99.00","1.000"]],"asks":[["101.00","1.000"]]}`, symbol, tp.base))
	return tp
}

func (tp *tradeTape) ts(n int) int64 { return tp.base + int64(n)*1000 }

func (tp *tradeTape) write(values ...string) {
	tp.t.Helper()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Key: []byte(tp.symbol), Value: []byte(v)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tp.w.WriteMessages(ctx, msgs...); err != nil {
		tp.t.Error(err)
	}
}

// trades writes the next k trades (a batch of other records in between,
// which the read back skips).
func (tp *tradeTape) trades(k int) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var vals []string
	for range k {
		tp.n++
		side := []string{"buy", "sell"}[tp.n%2]
		vals = append(vals, fmt.Sprintf(`{"type":"trade","symbol":%q,"ts":%d,"trade_id":"t%d","price":"100.%02d","size":"0.%03d","side":%q}`,
			tp.symbol, tp.ts(tp.n), tp.n, tp.n%100, tp.n%1000+1, side))
		if tp.n%7 == 0 {
			vals = append(vals, fmt.Sprintf(`{"type":"delta","symbol":%q,"ts":%d,"seq":%d,"bids":[["99.00","%d.000"]],"asks":[]}`,
				tp.symbol, tp.ts(tp.n), 1+tp.n/7, tp.n))
		}
	}
	tp.write(vals...)
}

// waitTrade waits until srv's symbol has applied trade n (its history's
// newest).
func waitTrade(t testing.TB, srv *server.Server, symbol string, n int) {
	t.Helper()
	want := fmt.Sprint("t", n)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if st := srv.Hub().Streams(symbol); st != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			got, err := st.Trades(ctx, fanout.TradesQuery{Limit: 1})
			cancel()
			if err == nil && len(got.Trades) > 0 && got.Trades[0].ID == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never applied %s", symbol, want)
		}
	}
}

// resumeTrades subscribes to the symbol's trades from trade n at
// interval and returns the connection and the ack.
func resumeTrades(t testing.TB, url, symbol, interval string, id string, ts int64) (*client.Conn, *schemas.ServerMessage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ch := "trades." + symbol
	if err := c.SendRaw(fmt.Appendf(nil, `{"op":"subscribe","id":1,"channel":%q,"interval":%q,"resume":{%q:{"trade_id":%q,"ts":%d}}}`,
		ch, interval, ch, id, ts)); err != nil {
		t.Fatal(err)
	}
	ack, err := c.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c, ack
}

// readTradeIDs reads trades messages until trade last and returns the ids.
func readTradeIDs(t testing.TB, c *client.Conn, last string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var ids []string
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("after %v: %v", ids, err)
		}
		if m.Type != schemas.TypeTrades {
			t.Fatalf("unexpected %+v", m)
		}
		for _, tr := range m.Trades {
			ids = append(ids, tr.ID)
		}
		if len(ids) > 0 && ids[len(ids)-1] == last {
			return ids
		}
	}
}

func wantIDs(t *testing.T, got []string, from, to int) {
	t.Helper()
	var want []string
	for i := from; i <= to; i++ {
		want = append(want, fmt.Sprint("t", i))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("trades:\n got %v\nwant t%d..t%d", got, from, to)
	}
}

// tradesServer runs a server on b whose trade history holds keep trades.
func tradesServer(t testing.TB, b *broker.Broker, keep int, logWindow time.Duration) (*server.Server, func()) {
	return runServer(t, server.Config{
		Feed:         feed.Config{Brokers: b.Addrs(), Topic: b.Topic(), Start: feed.StartEarliest},
		TradeHistory: market.TradeHistoryConfig{MaxBytes: keep * market.TradeRecordBytes},
		SilentAfter:  -1,
		WS:           fanout.Config{TradeLogWindow: logWindow},
	})
}

// A position the history has dropped but the Kafka log holds is resumed
// from the log, stitched to the history and to the live trades: every
// trade after it once, in order, trades written during the resume
// included, at every interval.
func TestTradesResumeFromKafka(t *testing.T) {
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	tape := newTradeTape(t, b, "BTC-USD", time.Now())
	tape.trades(60)
	srv, _ := tradesServer(t, b, 8, 0)
	url := "ws://" + srv.Addr() + "/ws"
	waitTrade(t, srv, "BTC-USD", 60)
	for k, iv := range []string{"raw", "100ms", "1s"} {
		t.Run(iv, func(t *testing.T) {
			from := 10 + k
			done := make(chan struct{})
			go func() { defer close(done); tape.trades(20) }() // written while the resume is built
			c, ack := resumeTrades(t, url, "BTC-USD", iv, fmt.Sprint("t", from), tape.ts(from))
			if ack.Type != schemas.TypeSubscribed || ack.Resumed == nil || !*ack.Resumed {
				t.Fatalf("ack %+v", ack)
			}
			<-done
			last := tape.n
			wantIDs(t, readTradeIDs(t, c, fmt.Sprint("t", last)), from+1, last)
			tape.trades(1)
			wantIDs(t, readTradeIDs(t, c, fmt.Sprint("t", last+1)), last+1, last+1)
		})
	}
}

// A position older than the window the log is read back in is refused
// (resumed false, reason history) although the broker still has it, and
// the stream continues live.
func TestTradesResumeBeyondLogWindow(t *testing.T) {
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	tape := newTradeTape(t, b, "ETH-USD", time.Now().Add(-time.Minute))
	tape.trades(30)
	srv, _ := tradesServer(t, b, 4, 30*time.Second)
	waitTrade(t, srv, "ETH-USD", 30)
	if got := metric(t, srv.Addr(), `marketfeed_trade_history_bytes`); got != float64(4*market.TradeRecordBytes) {
		t.Errorf("history bytes %v, want 4 trades of %d", got, market.TradeRecordBytes)
	}
	c, ack := resumeTrades(t, "ws://"+srv.Addr()+"/ws", "ETH-USD", "raw", "t3", tape.ts(3))
	if ack.Type != schemas.TypeSubscribed || ack.Resumed == nil || *ack.Resumed || ack.ResumeReason != schemas.ResumeHistory {
		t.Fatalf("ack %+v", ack)
	}
	tape.trades(1)
	wantIDs(t, readTradeIDs(t, c, "t31"), 31, 31)
	if got := metric(t, srv.Addr(), `marketfeed_ws_resumes_total{kind="trades",result="history"}`); got != 1 {
		t.Errorf("trades resumes refused for history: %v, want 1", got)
	}
}

// A client that reads the recent trades over REST and then subscribes
// from the answer's last trade sees every trade once, trades written
// between the read and the subscribe included.
func TestTradesRESTThenStream(t *testing.T) {
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	tape := newTradeTape(t, b, "SOL-USD", time.Now())
	tape.trades(25)
	srv, _ := tradesServer(t, b, 1000, 0)
	waitTrade(t, srv, "SOL-USD", 25)
	resp, err := http.Get("http://" + srv.Addr() + "/v1/trades/SOL-USD?limit=10")
	if err != nil {
		t.Fatal(err)
	}
	var page schemas.ServerMessage
	err = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if err != nil || len(page.Trades) != 10 || page.Trades[9].ID != "t25" || page.Trades[0].ID != "t16" {
		t.Fatalf("REST page %+v (%v)", page, err)
	}
	tape.trades(5) // between the read and the subscribe
	waitTrade(t, srv, "SOL-USD", 30)
	last := page.Trades[9]
	c, ack := resumeTrades(t, "ws://"+srv.Addr()+"/ws", "SOL-USD", "raw", last.ID, last.TS)
	if ack.Resumed == nil || !*ack.Resumed {
		t.Fatalf("ack %+v", ack)
	}
	tape.trades(5)
	wantIDs(t, readTradeIDs(t, c, "t35"), 26, 35)
}

// A position the history has dropped while the broker is gone is refused
// (reason history: what the server can still read), once the read back
// gives up, and the subscription starts anew.
func TestTradesResumeLogUnavailable(t *testing.T) {
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	tape := newTradeTape(t, b, "ETH-USD", time.Now())
	tape.trades(20)
	srv, _ := tradesServer(t, b, 4, 0)
	waitTrade(t, srv, "ETH-USD", 20)
	b.Close()
	start := time.Now()
	c, ack := resumeTrades(t, "ws://"+srv.Addr()+"/ws", "ETH-USD", "raw", "t3", tape.ts(3))
	if ack.Type != schemas.TypeSubscribed || ack.Resumed == nil || *ack.Resumed || ack.ResumeReason != schemas.ResumeHistory {
		t.Fatalf("ack %+v", ack)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("the refusal took %v", d)
	}
	c.Close()
}
