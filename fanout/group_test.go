package fanout

import (
	"testing"

	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
)

// The flush schedule lives in the Group: every Tick flushes the 100ms
// streams, every tenth the 1s streams too, and the Group's market changes
// reach the symbol's streams.
func TestGroupTickSchedule(t *testing.T) {
	hub, err := NewHub(Config{}, NewMetrics(nil))
	if err != nil {
		t.Fatal(err)
	}
	g := hub.NewGroup()
	sym := market.NewSymbol(market.Instrument{Symbol: "X", Tick: 1, Lot: 1}, inline{}, nil)
	g.Defined(sym)
	tp := hub.Streams("X")
	if tp == nil || tp.sym != sym {
		t.Fatal("Defined did not register the symbol's streams")
	}
	for iv := schemas.Every100ms; iv < schemas.NumIntervals; iv++ {
		tp.tickers[iv] = &tickerStream{}
	}
	trade := schemas.Record{Type: schemas.RecordTrade, Symbol: []byte("X"), TS: 5, TradeID: []byte("t1"), Price: []byte("10"), Size: []byte("1"), Side: schemas.SideBuy}
	tr, c := sym.ApplyTrade(&trade)
	if c.Reason != "" {
		t.Fatal(c.Reason)
	}
	g.Traded(sym, tr)
	for tick := 1; tick <= 20; tick++ {
		g.Tick()
		if tp.tickers[schemas.Every100ms].dirty {
			t.Fatalf("tick %d: the 100ms ticker was not flushed", tick)
		}
		if tick == 15 {
			g.Traded(sym, tr) // dirty again: flushed at tick 20, not before
		}
		want := tick < 10 || tick >= 15 && tick < 20
		if tp.tickers[schemas.Every1s].dirty != want {
			t.Fatalf("tick %d: 1s ticker dirty %v, want %v", tick, !want, want)
		}
	}
}
