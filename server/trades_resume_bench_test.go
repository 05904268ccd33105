package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/schemas"
)

// BenchmarkTradesResume measures a trades resume: one op is a
// connection, a subscribe from a trade 10,000 trades back, and reading
// the catch-up to the newest trade, over loopback against the real
// server and the embedded broker (one partition, 20,000 trades and their
// deltas), from the history (memory: it holds every trade) or from the
// Kafka log (log: the history keeps 8).
func BenchmarkTradesResume(b *testing.B) {
	br, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(br.Close)
	tape := newTradeTape(b, br, "BTC-USD", time.Now())
	for range 20 {
		tape.trades(1000)
	}
	b.Run("memory", func(b *testing.B) { benchResume(b, tape, 100_000) })
	b.Run("log", func(b *testing.B) { benchResume(b, tape, 8) })
}

func benchResume(b *testing.B, tape *tradeTape, keep int) {
	srv, _ := tradesServer(b, tape.b, keep, 0)
	waitTrade(b, srv, "BTC-USD", tape.n)
	url := "ws://" + srv.Addr() + "/ws"
	from, last := tape.n-10_000, fmt.Sprint("t", tape.n)
	b.ResetTimer()
	for range b.N {
		c, ack := resumeTrades(b, url, "BTC-USD", "raw", fmt.Sprint("t", from), tape.ts(from))
		if ack.Type != schemas.TypeSubscribed || ack.Resumed == nil || !*ack.Resumed {
			b.Fatalf("ack %+v", ack)
		}
		if ids := readTradeIDs(b, c, last); len(ids) != 10_000 {
			b.Fatalf("%d trades", len(ids))
		}
		c.Close()
	}
	b.StopTimer()
	b.ReportMetric(float64(10_000*b.N)/b.Elapsed().Seconds(), "trades/s")
}
