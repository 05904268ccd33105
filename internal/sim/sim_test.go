package sim

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/fixedpoint"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// run generates a stream of events with a snapshot round every snapEvery
// events, feeding every message to the replayer.
func run(t testing.TB, cfg Config, events, snapEvery int) (*replayer, *Exchange) {
	t.Helper()
	e := New(cfg)
	r := newReplayer()
	var dst []Message
	feed := func(now time.Time) {
		for _, m := range dst {
			if !m.Time.Equal(now) {
				t.Fatalf("message time %v, want %v", m.Time, now)
			}
			if err := r.apply(m.Key, m.Value, now.UnixMicro()); err != nil {
				t.Fatalf("message %d: %v\n%s", r.msgs, err, m.Value)
			}
		}
	}
	for i := 0; i < events; i++ {
		now := t0.Add(time.Duration(i) * 1500 * time.Microsecond)
		if i%snapEvery == 0 {
			dst = e.Snapshots(now, dst[:0])
			if len(dst) != 2*len(e.Symbols()) {
				t.Fatalf("Snapshots appended %d messages for %d symbols", len(dst), len(e.Symbols()))
			}
			feed(now)
		}
		dst = e.Next(now, dst[:0])
		if len(dst) != 1 && len(dst) != 2 {
			t.Fatalf("Next appended %d messages", len(dst))
		}
		feed(now)
	}
	dst = e.Snapshots(t0, dst[:0]) // final round checks the end state
	feed(t0)
	return r, e
}

// TestReplay replays long streams through the reference book: sequence
// continuity, snapshots equal to the replayed books, no crossed book, exact
// decimals, trades at the touch followed by their delta (all checked by the
// replayer), plus the walk and trade-ratio statistics.
func TestReplay(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		events int
	}{
		{"seed1", Config{Seed: 1}, 50000},
		{"seed2", Config{Seed: 2}, 15000},
		{"seed-7", Config{Seed: -7}, 10000},
		{"many-shallow", Config{Seed: 3, Symbols: 30, Levels: 5, TradeRatio: 0.5}, 15000},
		{"one-no-trades", Config{Seed: 4, Symbols: 1, Levels: 4, TradeRatio: -1}, 5000},
		{"one-all-trades", Config{Seed: 6, Symbols: 1, Levels: 4, TradeRatio: 1}, 3000},
		{"deep", Config{Seed: 5, Symbols: 3, Levels: 200}, 5000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, e := run(t, tc.cfg, tc.events, 1000)
			cfg := tc.cfg.withDefaults()
			if len(r.books) != cfg.Symbols {
				t.Fatalf("%d books, want %d", len(r.books), cfg.Symbols)
			}
			if r.events != tc.events {
				t.Fatalf("replayed %d events, want %d", r.events, tc.events)
			}
			ratio := float64(r.trades) / float64(r.events)
			if cfg.TradeRatio < 0 {
				if r.trades != 0 {
					t.Fatalf("%d trades with trades disabled", r.trades)
				}
			} else if ratio < cfg.TradeRatio*0.85 || ratio > cfg.TradeRatio*1.15 {
				t.Errorf("trade ratio %.3f, want about %.2f", ratio, cfg.TradeRatio)
			}
			for _, s := range e.syms {
				b := r.books[s.in.symbol]
				if n := len(s.bids.levels); n < 1 || n > cfg.Levels+4 {
					t.Errorf("%s: %d bid levels, Levels %d", s.in.symbol, n, cfg.Levels)
				}
				if n := len(s.asks.levels); n < 1 || n > cfg.Levels+4 {
					t.Errorf("%s: %d ask levels, Levels %d", s.in.symbol, n, cfg.Levels)
				}
				// The walk moves: levels enter and leave the top 20, and
				// the best bid takes many values. Symbols with few events
				// are exempt.
				if b.deltas < 300 {
					continue
				}
				if b.entered == 0 || b.left == 0 {
					t.Errorf("%s: %d levels entered and %d left the top 20 over %d deltas", s.in.symbol, b.entered, b.left, b.deltas)
				}
				if len(b.bestBids) < 5 {
					t.Errorf("%s: best bid took only %d values over %d deltas", s.in.symbol, len(b.bestBids), b.deltas)
				}
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	gen := func(seed int64) [][]byte {
		e := New(Config{Seed: seed})
		var out [][]byte
		dst := e.Snapshots(t0, nil)
		for i := 0; i < 2000; i++ {
			dst = e.Next(t0, dst)
		}
		for _, m := range dst {
			out = append(out, m.Value)
		}
		return out
	}
	a, b, c := gen(9), gen(9), gen(10)
	if len(a) != len(b) {
		t.Fatalf("same seed: %d vs %d messages", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("same seed, message %d differs:\n%s\n%s", i, a[i], b[i])
		}
	}
	same := len(a) == len(c)
	for i := 0; same && i < len(a); i++ {
		same = bytes.Equal(a[i], c[i])
	}
	if same {
		t.Fatalf("seeds 9 and 10 produced the same stream")
	}
	if !bytes.Equal(New(Config{}).Snapshots(t0, nil)[1].Value, New(Config{Seed: 1}).Snapshots(t0, nil)[1].Value) {
		t.Fatalf("zero seed is not seed 1")
	}
}

// TestValuesStable checks that returned values are never overwritten by
// later calls (they live in append-only arenas).
func TestValuesStable(t *testing.T) {
	e := New(Config{Seed: 11})
	var kept []Message
	var copies [][]byte
	dst := e.Snapshots(t0, nil)
	for i := 0; i < 20000; i++ {
		if i%1000 == 0 {
			dst = e.Snapshots(t0, dst[:0])
		}
		dst = e.Next(t0, dst[:0])
		if i%97 == 0 {
			for _, m := range dst {
				kept = append(kept, m)
				copies = append(copies, append([]byte(nil), m.Value...))
			}
		}
	}
	for i, m := range kept {
		if !bytes.Equal(m.Value, copies[i]) {
			t.Fatalf("value %d changed after later calls", i)
		}
		if cap(m.Value) != len(m.Value) {
			t.Fatalf("value %d has spare capacity: appending to it could overwrite another", i)
		}
	}
}

func TestSymbols(t *testing.T) {
	tests := []struct {
		n         int
		wantFirst string
		wantLast  string
		wantCount int
	}{
		{0, "BTC-USD", "GOOGL", 20},
		{3, "BTC-USD", "SOL-USD", 3},
		{25, "BTC-USD", "SYM025-USD", 25},
		{1200, "BTC-USD", "SYM1200-USD", 1200},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			e := New(Config{Symbols: tc.n, Levels: 4})
			syms := e.Symbols()
			if len(syms) != tc.wantCount || syms[0] != tc.wantFirst || syms[len(syms)-1] != tc.wantLast {
				t.Fatalf("Symbols = %d names %s..%s", len(syms), syms[0], syms[len(syms)-1])
			}
			seen := map[string]bool{}
			for _, s := range syms {
				if seen[s] || !validSymbol(s) {
					t.Fatalf("symbol %q invalid or repeated", s)
				}
				seen[s] = true
			}
			syms[0] = "changed"
			if e.Symbols()[0] != tc.wantFirst {
				t.Fatalf("Symbols exposes internal state")
			}
			// Every instrument and initial book is valid.
			r := newReplayer()
			for _, m := range e.Snapshots(t0, nil) {
				if err := r.apply(m.Key, m.Value, t0.UnixMicro()); err != nil {
					t.Fatalf("%v\n%s", err, m.Value)
				}
			}
		})
	}
}

// TestInstrumentTable checks a few definitions against the documented
// market conventions, through the records.
func TestInstrumentTable(t *testing.T) {
	want := map[string]struct {
		ps, ss    int
		lo, hi    string // plausible mid range
		tick, lot string
		quote     string
	}{
		"BTC-USD":  {2, 8, "60000", "70000", "0.01", "0.00000001", "USD"},
		"ETH-USD":  {2, 6, "3000", "4000", "0.01", "0.000001", "USD"},
		"SOL-USD":  {3, 4, "100", "200", "0.001", "0.01", "USD"},
		"DOGE-USD": {6, 0, "0.1", "0.2", "0.000001", "1", "USD"},
		"EUR-USD":  {5, 2, "1", "1.2", "0.00001", "1000.00", "USD"},
		"AAPL":     {2, 0, "150", "250", "0.01", "1", "USD"},
	}
	e := New(Config{})
	msgs := e.Snapshots(t0, nil)
	found := 0
	for i := 0; i < len(msgs); i += 2 {
		in, err := decode(msgs[i].Value)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := decode(msgs[i+1].Value)
		if err != nil {
			t.Fatal(err)
		}
		if in.Type != typeInstrument || snap.Type != typeSnapshot || in.Symbol != snap.Symbol {
			t.Fatalf("pair %d: %s %s / %s %s", i/2, in.Type, in.Symbol, snap.Type, snap.Symbol)
		}
		w, ok := want[in.Symbol]
		if !ok {
			continue
		}
		found++
		if *in.PriceScale != w.ps || *in.SizeScale != w.ss || in.Quote != w.quote {
			t.Errorf("%s: scales %d/%d quote %s", in.Symbol, *in.PriceScale, *in.SizeScale, in.Quote)
		}
		tick, _ := dec(in.TickSize, w.ps)
		wantTick, err := fixedpoint.Parse(w.tick, w.ps)
		if err != nil || tick != wantTick {
			t.Errorf("%s: tick %s, want %s", in.Symbol, in.TickSize, w.tick)
		}
		lot, _ := dec(in.LotSize, w.ss)
		wantLot, err := fixedpoint.Parse(w.lot, w.ss)
		if err != nil || lot != wantLot {
			t.Errorf("%s: lot %s, want %s", in.Symbol, in.LotSize, w.lot)
		}
		bid, _ := dec(snap.Bids[0][0], w.ps)
		lo, _ := fixedpoint.Parse(w.lo, w.ps)
		hi, _ := fixedpoint.Parse(w.hi, w.ps)
		if bid < lo || bid > hi {
			t.Errorf("%s: best bid %s outside %s..%s", in.Symbol, snap.Bids[0][0], w.lo, w.hi)
		}
		if strings.Contains(string(msgs[i].Value), " ") {
			t.Errorf("%s: unexpected whitespace in %s", in.Symbol, msgs[i].Value)
		}
	}
	if found != len(want) {
		t.Fatalf("found %d of %d expected instruments", found, len(want))
	}
}

func BenchmarkNext(b *testing.B) {
	e := New(Config{})
	dst := make([]Message, 0, 4)
	now := t0
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		dst = e.Next(now, dst[:0])
		for _, m := range dst {
			n += len(m.Value)
		}
	}
	b.ReportMetric(float64(n)/float64(b.N), "bytes/event")
}

func BenchmarkSnapshots(b *testing.B) {
	e := New(Config{})
	dst := make([]Message, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		dst = e.Snapshots(t0, dst[:0])
	}
}
