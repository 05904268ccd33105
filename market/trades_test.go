package market

import (
	"fmt"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/schemas"
)

func tradeRec(t testing.TB, id string, ts int64) *schemas.Record {
	return rec(t, `{"type":"trade","symbol":"A","ts":%d,"trade_id":%q,"price":"10.05","size":"1.5","side":"sell"}`, ts, id)
}

func ids(ts []HeldTrade) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = fmt.Sprintf("%s@%d", t.ID, t.Offset)
	}
	return out
}

// The history holds the trades after a position in order, each with its
// offset and exact values, and knows from which offset it is complete.
func TestTradeHistoryHoldsTradesInOrder(t *testing.T) {
	s := live(t)
	s.SetTradeHistory(TradeHistoryConfig{}, 0, 100)
	for i := range 5 {
		if _, c := s.ApplyTradeAt(tradeRec(t, fmt.Sprint("t", i), int64(10+i)), int64(101+i)); c.Reason != "" {
			t.Fatal(c.Reason)
		}
	}
	got, ok := s.TradesAfter(nil, "t1", 11)
	if !ok || fmt.Sprint(ids(got)) != "[t2@103 t3@104 t4@105]" {
		t.Fatalf("after t1: %v %v", ids(got), ok)
	}
	if g := got[0]; g.TS != 12 || g.Price != 1005 || g.Size != 15 || g.Side != schemas.SideSell {
		t.Fatalf("values: %+v", g)
	}
	if _, ok := s.TradesAfter(nil, "t1", 12); ok {
		t.Fatal("a trade id at another time is another trade")
	}
	if got, ok := s.TradesAfter(nil, "t4", 14); !ok || len(got) != 0 {
		t.Fatalf("after the newest: %v %v", got, ok)
	}
	if s.TradesFloor() != 100 || s.TradeBytes() != 5*TradeRecordBytes {
		t.Fatalf("floor %d bytes %d", s.TradesFloor(), s.TradeBytes())
	}
}

// Trades older than the window behind the newest trade, and beyond the
// byte bound, are dropped, and the floor moves past them.
func TestTradeHistoryBounds(t *testing.T) {
	s := live(t)
	s.SetTradeHistory(TradeHistoryConfig{Window: time.Second, MaxBytes: 3 * TradeRecordBytes}, 0, 0)
	for i := range 5 {
		s.ApplyTradeAt(tradeRec(t, fmt.Sprint("t", i), int64(i)), int64(i))
	}
	if got := s.RecentTrades(nil); fmt.Sprint(ids(got)) != "[t2@2 t3@3 t4@4]" || s.TradesFloor() != 2 {
		t.Fatalf("byte bound: %v floor %d", ids(got), s.TradesFloor())
	}
	s.ApplyTradeAt(tradeRec(t, "late", 1_500_000), 9)
	if got := s.RecentTrades(nil); fmt.Sprint(ids(got)) != "[late@9]" || s.TradesFloor() != 5 {
		t.Fatalf("window: %v floor %d", ids(got), s.TradesFloor())
	}
	if _, ok := s.TradesAfter(nil, "t3", 3); ok {
		t.Fatal("a dropped trade is not held")
	}
	// A redefinition of the scales empties it.
	inst := s.Instrument()
	inst.PriceScale++
	s.Define(inst)
	if s.TradeBytes() != 0 || s.TradesFloor() != -1 {
		t.Fatalf("after a redefinition: %d bytes, floor %d", s.TradeBytes(), s.TradesFloor())
	}
}

// Recording a trade in a full history allocates nothing.
func TestTradeHistoryNoAllocs(t *testing.T) {
	s := live(t)
	s.SetTradeHistory(TradeHistoryConfig{MaxBytes: 64 * TradeRecordBytes}, 0, 0)
	r := tradeRec(t, "some-trade-id-1234", 1)
	for i := range 200 {
		r.TS = int64(i)
		s.ApplyTradeAt(r, int64(i))
	}
	off := int64(200)
	if n := testing.AllocsPerRun(1000, func() {
		r.TS++
		off++
		s.ApplyTradeAt(r, off)
	}); n != 0 {
		t.Fatalf("%v allocations per trade", n)
	}
}

// BenchmarkApplyTrade measures applying a trade to a symbol whose trade
// history is full (steady state: the ring's memory is reused), ticker
// included.
func BenchmarkApplyTrade(b *testing.B) {
	s := live(b)
	s.SetTradeHistory(TradeHistoryConfig{}, 0, 0)
	r := tradeRec(b, "1234567890123", 1)
	for i := range 20_000 { // past the 1 MiB bound
		r.TS = int64(i)
		s.ApplyTradeAt(r, int64(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r.TS = int64(20_000 + i)
		s.ApplyTradeAt(r, int64(20_000+i))
	}
}
