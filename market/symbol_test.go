package market

import (
	"fmt"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

type inline struct{}

func (inline) Exec(fn func()) bool { fn(); return true }

// rec decodes one Kafka record value, as the feed does.
func rec(t testing.TB, format string, args ...any) *schemas.Record {
	t.Helper()
	var r schemas.Record
	if err := schemas.DecodeRecord(fmt.Appendf(nil, format, args...), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func define(t testing.TB, def string) *Symbol {
	t.Helper()
	inst, rej := ParseInstrument(rec(t, "%s", def))
	if rej.Reason != "" {
		t.Fatalf("definition rejected: %v", rej)
	}
	return NewSymbol(inst, inline{}, nil)
}

const defA = `{"type":"instrument","symbol":"A","ts":1,"price_scale":2,"size_scale":1,"tick_size":"0.05","lot_size":"0.5"}`

func live(t testing.TB) *Symbol {
	t.Helper()
	s := define(t, defA)
	c := s.ApplySnapshot(rec(t, `{"type":"snapshot","symbol":"A","ts":2,"epoch":1,"seq":10,"bids":[["10.00","1"]],"asks":[["10.10","1"]]}`))
	if c.Reason != "" || !c.Reset || !c.Status || c.Snapshot != SnapshotApplied {
		t.Fatalf("first snapshot: %+v", c)
	}
	return s
}

// Every validation of the market state rejects with its reason and
// leaves the symbol as it was.
func TestRejections(t *testing.T) {
	for _, tc := range []struct{ value, reason string }{
		{`{"type":"delta","symbol":"A","ts":3,"epoch":1,"seq":11,"bids":[["10.01","1"]]}`, ReasonOffTick},
		{`{"type":"delta","symbol":"A","ts":3,"epoch":1,"seq":11,"bids":[["10.05","0.7"]]}`, ReasonOffLot},
		{`{"type":"delta","symbol":"A","ts":3,"epoch":1,"seq":11,"bids":[["10.001","1"]]}`, ReasonPrecision},
		{`{"type":"delta","symbol":"A","ts":3,"epoch":1,"seq":11,"bids":[["100000000000000000000","1"]]}`, ReasonOutOfRange},
		{`{"type":"delta","symbol":"A","ts":3,"epoch":1,"seq":10,"bids":[["10.05","1"]]}`, ReasonSeqBackwards},
		{`{"type":"delta","symbol":"A","ts":3,"epoch":0,"seq":11,"bids":[["10.05","1"]]}`, ReasonOldEpoch},
		{`{"type":"snapshot","symbol":"A","ts":3,"epoch":0,"seq":20,"bids":[],"asks":[]}`, ReasonOldEpoch},
		{`{"type":"snapshot","symbol":"A","ts":3,"epoch":1,"seq":9,"bids":[],"asks":[]}`, ReasonStaleSnapshot},
		{`{"type":"snapshot","symbol":"A","ts":3,"epoch":1,"seq":12,"bids":[["10.00","1"],["10.00","2"]],"asks":[]}`, ReasonDuplicate},
		{`{"type":"trade","symbol":"A","ts":3,"trade_id":"x","price":"10.001","size":"1","side":"buy"}`, ReasonPrecision},
		{`{"type":"trade","symbol":"A","ts":3,"trade_id":"x","price":"10.00","size":"100000000000000000000","side":"buy"}`, ReasonOutOfRange},
	} {
		s := live(t)
		r := rec(t, "%s", tc.value)
		var c Change
		switch r.Type {
		case schemas.RecordDelta:
			c = s.ApplyDelta(r)
		case schemas.RecordSnapshot:
			c = s.ApplySnapshot(r)
		default:
			_, c = s.ApplyTrade(r)
		}
		if c.Reason != tc.reason || c.Applied || c.Book || c.Status || c.Reset {
			t.Errorf("%s: %+v, want rejected %s", tc.value, c, tc.reason)
		}
		if st := s.Published(); st.State != Live || st.Seq != 10 || s.Book().Len(orderbook.Bid) != 1 {
			t.Errorf("%s: symbol changed: %+v", tc.value, st)
		}
	}
	// The decoder refuses these already; the market state does not rely
	// on it.
	if _, rej := ParseInstrument(&schemas.Record{Type: schemas.RecordInstrument, Symbol: []byte("A"), PriceScale: 2, TickSize: []byte("0")}); rej.Reason != string(schemas.ReasonInvalidField) {
		t.Errorf("tick_size 0: %+v", rej)
	}
	if _, rej := ParseInstrument(&schemas.Record{Type: schemas.RecordInstrument, Symbol: []byte("A"), SizeScale: 1, LotSize: []byte("0.01")}); rej.Reason != ReasonPrecision {
		t.Errorf("lot_size finer than the scale: %+v", rej)
	}
}

// A delta reports its levels (in the logs in use only), a gap or a new
// epoch breaks the sequence, a crossing delta makes the book stale, and
// a snapshot that is not crossed serves it again.
func TestDeltaChanges(t *testing.T) {
	s := live(t)
	s.UseLog(schemas.Every1s)
	c := s.ApplyDelta(rec(t, `{"type":"delta","symbol":"A","ts":5,"epoch":1,"seq":11,"bids":[["10.05","2"]]}`))
	if !c.Applied || !c.Book || c.Status || c.Reset || s.Seq() != 11 || s.BookTS() != 5 || s.TS() != 5 {
		t.Fatalf("delta: %+v seq %d", c, s.Seq())
	}
	if s.ChangeLog(schemas.Every1s).Len() != 1 || s.ChangeLog(schemas.Raw).Len() != 0 {
		t.Errorf("logs: 1s %d raw %d, want 1 and 0", s.ChangeLog(schemas.Every1s).Len(), s.ChangeLog(schemas.Raw).Len())
	}
	c = s.ApplyDelta(rec(t, `{"type":"delta","symbol":"A","ts":6,"epoch":1,"seq":11,"asks":[["10.05","1"]]}`))
	if c.Reason != ReasonSeqBackwards {
		t.Fatalf("replayed seq: %+v", c)
	}
	c = s.ApplyDelta(rec(t, `{"type":"delta","symbol":"A","ts":6,"epoch":1,"seq":12,"asks":[["10.05","1"]]}`))
	if !c.Book || !c.Crossed || !c.BecameCrossed || !c.Status {
		t.Fatalf("crossing delta: %+v", c)
	}
	if st := s.Published(); st.State != Stale || st.Reason != schemas.ReasonCrossed || st.Seq != 12 {
		t.Fatalf("crossed: %+v", st)
	}
	c = s.ApplySnapshot(rec(t, `{"type":"snapshot","symbol":"A","ts":7,"epoch":1,"seq":12,"bids":[["10.00","1"]],"asks":[["10.10","1"]]}`))
	if c.Snapshot != SnapshotCorrected || !c.Recovered || !c.Reset || !c.Status || c.Crossed {
		t.Fatalf("uncrossing snapshot: %+v", c)
	}
	if s.ChangeLog(schemas.Every1s).Len() != 0 {
		t.Error("a reset kept the change log")
	}
	c = s.ApplyDelta(rec(t, `{"type":"delta","symbol":"A","ts":8,"epoch":1,"seq":14,"bids":[["10.05","1"]]}`))
	if !c.Gap || c.NewEpoch || c.Book || !c.Status || c.Skipped || s.Seq() != 12 {
		t.Fatalf("gap: %+v", c)
	}
	if st := s.Published(); st.State != Stale || st.Reason != schemas.ReasonGap {
		t.Fatalf("after a gap: %+v", st)
	}
	c = s.ApplyDelta(rec(t, `{"type":"delta","symbol":"A","ts":9,"epoch":1,"seq":15,"bids":[["10.05","1"]]}`))
	if !c.Skipped || s.SeqState() != Stale || c.Status {
		t.Fatalf("delta while stale: %+v", c)
	}
	s.ApplySnapshot(rec(t, `{"type":"snapshot","symbol":"A","ts":10,"epoch":1,"seq":20,"bids":[["10.00","1"]],"asks":[["10.10","1"]]}`))
	c = s.ApplyDelta(rec(t, `{"type":"delta","symbol":"A","ts":11,"epoch":2,"seq":1,"bids":[["10.05","1"]]}`))
	if !c.Gap || !c.NewEpoch || !c.Skipped || s.SeqState() != Stale || s.Epoch() != 1 {
		t.Fatalf("delta of a new epoch: %+v", c)
	}
	c = s.ApplySnapshot(rec(t, `{"type":"snapshot","symbol":"A","ts":12,"epoch":2,"seq":1,"bids":[["9.00","1"]],"asks":[]}`))
	if c.Snapshot != SnapshotNewEpoch || !c.NewEpoch || !c.Reset {
		t.Fatalf("snapshot of the new epoch: %+v", c)
	}
	if st := s.Published(); st != (Status{State: Live, Seq: 1, Epoch: 2}) {
		t.Fatalf("new epoch: %+v", st)
	}
}

// Freshness: feed down and silence make a followed book stale and it is
// served again when the cause goes; a verified snapshot ends silence.
func TestFreshness(t *testing.T) {
	s := live(t)
	now := time.Unix(1767225600, 0)
	if c := s.CheckSilent(now, time.Second); c.Status {
		t.Fatalf("first check: %+v", c)
	}
	if c := s.CheckSilent(now.Add(2*time.Second), time.Second); !c.Silenced || !c.Status || s.Reason() != schemas.ReasonSilent {
		t.Fatalf("silent: %+v %q", c, s.Reason())
	}
	c := s.ApplySnapshot(rec(t, `{"type":"snapshot","symbol":"A","ts":3,"epoch":1,"seq":10,"bids":[["10.00","1"]],"asks":[["10.10","1"]]}`))
	if c.Snapshot != SnapshotVerified || !c.Reset || !c.Status || c.Applied {
		t.Fatalf("verifying snapshot of a silent book: %+v", c)
	}
	if c := s.SetFeedDown(true, now); !c.Status || s.Published().Reason != schemas.ReasonFeedDown {
		t.Fatalf("feed down: %+v %+v", c, s.Published())
	}
	if c := s.SetFeedDown(false, now); !c.Reset || !c.Status || s.Published().State != Live {
		t.Fatalf("feed up: %+v %+v", c, s.Published())
	}
	w := define(t, defA)
	if c := w.SetFeedDown(true, now); c.Status || w.Published().State != Waiting {
		t.Fatalf("waiting book, feed down: %+v %+v", c, w.Published())
	}
}

// A definition with new scales empties the book and waits; a new tick
// size alone applies to the next records.
func TestRedefine(t *testing.T) {
	s := live(t)
	inst, _ := ParseInstrument(rec(t, `{"type":"instrument","symbol":"A","ts":1,"price_scale":2,"size_scale":1,"tick_size":"0.01"}`))
	if c := s.Define(inst); c.Redefined || c.Status {
		t.Fatalf("tick change: %+v", c)
	}
	if c := s.ApplyDelta(rec(t, `{"type":"delta","symbol":"A","ts":3,"epoch":1,"seq":11,"bids":[["10.01","1"]]}`)); c.Reason != "" {
		t.Fatalf("delta on the new tick: %+v", c)
	}
	old := s.Ticker()
	inst.PriceScale = 3
	if c := s.Define(inst); !c.Redefined || !c.Status {
		t.Fatalf("scale change: %+v", c)
	}
	if s.Published().State != Waiting || s.Book().Len(orderbook.Bid) != 0 || s.Ticker() == old || s.Known() {
		t.Fatalf("after the scale change: %+v", s.Published())
	}
}

// The delta path does not allocate.
func TestDeltaAllocs(t *testing.T) {
	s := live(t)
	s.UseLog(schemas.Raw)
	s.UseLog(schemas.Every100ms)
	rs := make([]*schemas.Record, 64)
	for i := range rs {
		rs[i] = rec(t, `{"type":"delta","symbol":"A","ts":%d,"epoch":1,"seq":%d,"bids":[["10.05","%d"]],"asks":[["10.15","1"]]}`, 3+i, 11+i, 1+i%3)
	}
	for _, r := range rs[:32] {
		s.ApplyDelta(r)
	}
	i := 32
	allocs := testing.AllocsPerRun(30, func() {
		if c := s.ApplyDelta(rs[i]); !c.Book {
			t.Fatalf("delta %d not applied: %+v", i, c)
		}
		s.ChangeLog(schemas.Raw).Reset()
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per delta", allocs)
	}
}
