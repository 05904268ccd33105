package orderbook

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/marketfeed/marketfeed/internal/oracle"
	"github.com/shopspring/decimal"
)

const (
	second = int64(1_000_000)
	minute = 60 * second
	hour   = 60 * minute
)

// compareStats checks every field; decimals must be numerically equal and
// carry the same exponent.
func compareStats(got Stats, want oracle.RefStats) error {
	if got.HasLast != want.HasLast || got.Last != want.Last || got.LastSize != want.LastSize {
		return fmt.Errorf("last: got %v %d %d, want %v %d %d", got.HasLast, got.Last, got.LastSize, want.HasLast, want.Last, want.LastSize)
	}
	if got.Count != want.Count || got.Open != want.Open || got.High != want.High || got.Low != want.Low {
		return fmt.Errorf("count/open/high/low: got %d %d %d %d, want %d %d %d %d",
			got.Count, got.Open, got.High, got.Low, want.Count, want.Open, want.High, want.Low)
	}
	if def := want.Count > 0 && want.Open != 0; got.HasChangePct != def {
		return fmt.Errorf("HasChangePct %v with count %d and open %d", got.HasChangePct, want.Count, want.Open)
	}
	for _, f := range []struct {
		name      string
		got, want decimal.Decimal
	}{
		{"Volume", got.Volume, want.Volume},
		{"QuoteVolume", got.QuoteVolume, want.QuoteVolume},
		{"VWAP", got.VWAP, want.VWAP},
		{"Change", got.Change, want.Change},
		{"ChangePct", got.ChangePct, want.ChangePct},
	} {
		if !f.got.Equal(f.want) || f.got.Exponent() != f.want.Exponent() {
			return fmt.Errorf("%s: got %s (exp %d), want %s (exp %d)", f.name, f.got, f.got.Exponent(), f.want, f.want.Exponent())
		}
	}
	return nil
}

// tickerStream describes one random trade stream.
type tickerStream struct {
	seed                  uint64
	priceScale, sizeScale int
	start                 int64 // first ts
	price, priceJitter    int64 // prices in price ± priceJitter
	maxSize               int64
	step, quiet           int64 // usual time step uniform in [0, step); quiet periods in [0, quiet)
	longPerMille          int   // probability of a gap of an hour or more, per mille
	ops, every            int   // minimum number of events; check Stats about every `every` events
}

// TestTickerMatchesReference feeds random streams spanning more than 48 h,
// with gaps (including whole-window gaps), out-of-order and too-old trades,
// equal timestamps and standalone Advance calls, and compares every Stats
// field with the reference recomputed from the full trade list.
func TestTickerMatchesReference(t *testing.T) {
	streams := []tickerStream{
		{1, 2, 8, 1_767_225_600 * second, 6_412_310, 500_000, 100_000_000, 6 * minute, 40 * minute, 2, 4000, 4},
		{2, 12, 15, 1_767_225_600 * second, 1_000_000_000_000, 999_999_999_999, 1_000_000_000_000_000, 6 * minute, 40 * minute, 2, 4000, 4},
		{3, 0, 0, 0, 50, 49, 10, 6 * minute, 40 * minute, 2, 4000, 4},
		{4, 18, 18, -40 * hour, math.MaxInt64 - 1000, 1000, math.MaxInt64, 6 * minute, 40 * minute, 2, 4000, 4}, // sums need > 128 bits
		{5, 8, 3, 123_456_789, 0, 1_000_000, 1_000, 6 * minute, 40 * minute, 2, 4000, 4},                        // negative, zero prices
		{6, 4, 12, 1_767_225_600*second + 59*second, 3, 2, 1_000_000_000_000_000, 6 * minute, 40 * minute, 2, 4000, 4},
		// Dense trading: the window holds every one of its 1440 buckets.
		{7, 6, 9, 1_767_225_600 * second, 2_000_000_000_000, 1_000_000_000, 1_000_000_000_000_000, 30 * second, 30 * second, 0, 9000, 30},
	}
	for _, st := range streams {
		t.Run(fmt.Sprintf("seed=%d/scales=%d,%d", st.seed, st.priceScale, st.sizeScale), func(t *testing.T) {
			runTicker(t, st)
		})
	}
}

func runTicker(t *testing.T, st tickerStream) {
	r := rand.New(rand.NewPCG(st.seed, 77))
	tk := NewTicker(st.priceScale, st.sizeScale)
	ref := &oracle.Ticker{PriceScale: st.priceScale, SizeScale: st.sizeScale}
	now := int64(math.MinInt64) // newest event time the ticker has seen
	ts := st.start              // stream clock; late events lag behind it
	checks := 0
	for op := 0; ts-st.start <= 50*hour || op < st.ops; op++ {
		switch k := r.IntN(1000); {
		case k < st.longPerMille: // long gap: an hour up to beyond the whole window
			gaps := []int64{hour, 23*hour + 59*minute, 24 * hour, 24*hour + minute, 30 * hour}
			ts += gaps[r.IntN(len(gaps))]
		case k < 50: // quiet period
			ts += r.Int64N(st.quiet)
		case k < 150: // same ts as the previous event
		default:
			ts += r.Int64N(st.step)
		}
		switch k := r.IntN(100); {
		case k < 10:
			tk.Advance(ts)
			now = max(now, ts)
		case k < 13: // usually older than the newest event, then ignored
			old := ts - r.Int64N(30*hour)
			tk.Advance(old)
			now = max(now, old)
		default:
			tts := ts
			if r.IntN(10) == 0 { // late trade: in the window or before it
				tts = ts - r.Int64N(26*hour)
			}
			price := st.price - st.priceJitter + r.Int64N(2*st.priceJitter+1)
			size := 1 + r.Int64N(st.maxSize)
			if r.IntN(8) == 0 {
				size = st.maxSize
			}
			tk.Add(Trade{TS: tts, Price: price, Size: size})
			ref.Add(tts, price, size)
			now = max(now, tts)
		}
		if now != math.MinInt64 && (op%st.every == 0 || r.IntN(2*st.every) == 0) {
			checks++
			if err := compareStats(tk.Stats(), ref.Stats(now)); err != nil {
				t.Fatalf("op %d (t+%d µs): %v", op, now-st.start, err)
			}
		}
	}
	if err := compareStats(tk.Stats(), ref.Stats(now)); err != nil {
		t.Fatalf("final: %v", err)
	}
	if checks < st.ops/st.every {
		t.Fatalf("only %d checks", checks)
	}
}

// TestTickerWindowEdges pins the window definition: minute buckets, the
// newest minute plus the 1439 before it.
func TestTickerWindowEdges(t *testing.T) {
	t0 := 1_767_225_600 * second // a minute boundary
	cases := []struct {
		name      string
		trades    []int64 // trade ts, added in order
		advance   int64   // Advance after the trades (0: none)
		wantCount int64
	}{
		{"same minute", []int64{t0, t0 + 59*second}, 0, 2},
		{"first minute still in at 24h minus 1µs", []int64{t0, t0 + 24*hour - 1}, 0, 2},
		{"first minute expires at 24h", []int64{t0, t0 + 24*hour}, 0, 1},
		{"end of first minute expires at 24h", []int64{t0 + 59*second, t0 + 24*hour}, 0, 1},
		{"expiry by Advance alone", []int64{t0, t0 + hour}, t0 + 24*hour, 1},
		{"everything expires", []int64{t0, t0 + hour}, t0 + 25*hour + minute, 0},
		{"late trade before the window is not counted", []int64{t0 + 24*hour, t0 + minute - 1}, 0, 1},
		{"late trade inside the window is counted", []int64{t0 + 24*hour, t0 + minute}, 0, 2},
		{"negative ts floors", []int64{-1, -minute}, 0, 2},
		{"negative ts minute boundary", []int64{-minute - 1, 24*hour - minute - 1}, 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tk := NewTicker(2, 2)
			for i, ts := range tc.trades {
				tk.Add(Trade{TS: ts, Price: 100 + int64(i), Size: 1})
			}
			if tc.advance != 0 {
				tk.Advance(tc.advance)
			}
			s := tk.Stats()
			if s.Count != tc.wantCount {
				t.Fatalf("Count = %d, want %d", s.Count, tc.wantCount)
			}
			last := int64(100 + len(tc.trades) - 1)
			if !s.HasLast || s.Last != last {
				t.Fatalf("Last = %v %d, want the last added (%d)", s.HasLast, s.Last, last)
			}
		})
	}
}

func TestTickerEmpty(t *testing.T) {
	s := NewTicker(2, 8).Stats()
	if s.HasLast || s.Count != 0 {
		t.Fatalf("empty ticker: %+v", s)
	}
	for _, d := range []struct {
		v   decimal.Decimal
		exp int32
	}{{s.Volume, -8}, {s.QuoteVolume, -10}, {s.VWAP, -2}, {s.Change, -2}, {s.ChangePct, -2}} {
		if !d.v.IsZero() || d.v.Exponent() != d.exp {
			t.Errorf("zero field %s has exponent %d, want %d", d.v, d.v.Exponent(), d.exp)
		}
	}
}

func TestTickerRounding(t *testing.T) {
	// Scales 2/0; expectations worked out by hand, e.g. trades 1.00×1 and
	// 1.01×1: VWAP 1.005 → 1.00 (tie to even), change 0.01/1.00 → 1.00 %.
	cases := []struct {
		name      string
		trades    [][2]int64 // price, size
		vwap, pct string
	}{
		{"vwap tie to even down", [][2]int64{{100, 1}, {101, 1}}, "1.00", "1.00"},
		{"vwap tie to even up", [][2]int64{{101, 1}, {102, 1}}, "1.02", "0.99"},
		{"vwap above tie", [][2]int64{{100, 1}, {101, 3}}, "1.01", "1.00"},
		{"pct tie to even", [][2]int64{{800, 1}, {801, 1}}, "8.00", "0.12"}, // 0.125 → 0.12
		{"pct negative tie", [][2]int64{{800, 1}, {799, 1}}, "8.00", "-0.12"},
		{"negative prices", [][2]int64{{-200, 1}, {-100, 1}}, "-1.50", "-50.00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tk := NewTicker(2, 0)
			for i, tr := range tc.trades {
				tk.Add(Trade{TS: int64(i), Price: tr[0], Size: tr[1]})
			}
			s := tk.Stats()
			if got := s.VWAP.StringFixed(2); got != tc.vwap {
				t.Errorf("VWAP = %s, want %s", got, tc.vwap)
			}
			if got := s.ChangePct.StringFixed(2); got != tc.pct {
				t.Errorf("ChangePct = %s, want %s", got, tc.pct)
			}
		})
	}
}

func TestTickerZeroOpen(t *testing.T) {
	tk := NewTicker(2, 0)
	tk.Add(Trade{TS: 1, Price: 0, Size: 1})
	tk.Add(Trade{TS: 2, Price: 5, Size: 1})
	s := tk.Stats()
	if s.HasChangePct || !s.ChangePct.IsZero() || s.Change.StringFixed(2) != "0.05" {
		t.Fatalf("zero open: ChangePct %s (defined %v) Change %s", s.ChangePct, s.HasChangePct, s.Change)
	}
	tk.Add(Trade{TS: 0, Price: 0, Size: 1}) // an older trade, at price 0 too
	if s := tk.Stats(); s.HasChangePct || s.Open != 0 {
		t.Fatalf("open %d: ChangePct defined", s.Open)
	}
	tk = NewTicker(2, 0)
	tk.Add(Trade{TS: 1, Price: -200, Size: 1})
	tk.Add(Trade{TS: 2, Price: -100, Size: 1})
	if s := tk.Stats(); !s.HasChangePct || s.ChangePct.StringFixed(2) != "-50.00" {
		t.Fatalf("negative open: ChangePct %s (defined %v)", s.ChangePct, s.HasChangePct)
	}
}

func TestNewTickerRejectsScales(t *testing.T) {
	for _, sc := range [][2]int{{-1, 0}, {0, 19}, {19, 2}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewTicker(%d, %d) did not panic", sc[0], sc[1])
				}
			}()
			NewTicker(sc[0], sc[1])
		}()
	}
}

func TestTickerAddNoAllocSteadyState(t *testing.T) {
	tk := NewTicker(2, 8)
	ts := int64(0)
	add := func() {
		ts += 7 * second
		tk.Add(Trade{TS: ts, Price: 6_412_310 + ts%1000, Size: 1 + ts%100_000})
	}
	for range 2 * 24 * 60 * 60 / 7 { // two days: the ring reaches its final size
		add()
	}
	if a := testing.AllocsPerRun(10_000, add); a != 0 {
		t.Fatalf("Add allocated %v times per call", a)
	}
}

// WindowStart is the first event time seen until the window has moved past
// it, then the window's first minute; HasWindow is false before any event.
func TestTickerWindowStart(t *testing.T) {
	tk := NewTicker(2, 0)
	if st := tk.Stats(); st.HasWindow {
		t.Fatalf("empty ticker has a window: %+v", st)
	}
	t0 := int64(1767225600_000000) + 12_345_678
	tk.Advance(t0)
	tk.Add(Trade{TS: t0 + 1, Price: 100, Size: 1})
	if st := tk.Stats(); !st.HasWindow || st.WindowStart != t0 {
		t.Fatalf("window start %d, want the first event %d", st.WindowStart, t0)
	}
	tk.Add(Trade{TS: t0 - 5, Price: 100, Size: 1}) // late: counted, the start stays
	if st := tk.Stats(); st.WindowStart != t0 || st.Count != 2 {
		t.Fatalf("after a late trade: start %d count %d", st.WindowStart, st.Count)
	}
	later := t0 + 30*3600*1_000_000
	tk.Advance(later)
	if st, want := tk.Stats(), (later/MinuteMicros-WindowMinutes+1)*MinuteMicros; st.WindowStart != want || st.Count != 0 {
		t.Fatalf("after a day: start %d count %d, want %d and 0", st.WindowStart, st.Count, want)
	}
}
