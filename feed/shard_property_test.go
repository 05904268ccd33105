package feed

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/orderbook"
)

// refSymbol is the deliberately simple reference book of the property
// test: two maps of mantissas, the sequence state and the sequence, updated
// by the rules of kafka.md in the plainest way. A book whose sequence state
// is live is served unless it was crossed since its last snapshot.
type refSymbol struct {
	defined     bool
	pscale      int
	sscale      int
	state       market.BookState
	crossed     bool
	seq         uint64
	sides       [2]map[int64]int64
	lastRecord  string
	recordCount int
}

func (r *refSymbol) reset() { r.sides = [2]map[int64]int64{{}, {}} }

// isCrossed reports whether the best bid is at or above the best ask.
func (r *refSymbol) isCrossed() bool {
	b, a := r.sorted(orderbook.Bid), r.sorted(orderbook.Ask)
	return len(b) > 0 && len(a) > 0 && b[0].Price >= a[0].Price
}

// served is the state subscribers see.
func (r *refSymbol) served() market.BookState {
	if r.state == market.Live && r.crossed {
		return market.Stale
	}
	return r.state
}

// sorted returns a side's levels best first.
func (r *refSymbol) sorted(side orderbook.Side) []orderbook.Level {
	var out []orderbook.Level
	for p, q := range r.sides[side] {
		out = append(out, orderbook.Level{Price: p, Size: q})
	}
	slices.SortFunc(out, func(a, b orderbook.Level) int {
		if side == orderbook.Bid {
			return cmp.Compare(b.Price, a.Price)
		}
		return cmp.Compare(a.Price, b.Price)
	})
	return out
}

// decimal writes mantissa m at scale the way an exchange might: exactly
// at the scale, with extra trailing zeros, or with trailing zeros trimmed.
// It uses only strconv, not the fixedpoint package under test.
func decimal(rng *rand.Rand, m int64, scale int) string {
	neg := m < 0
	digits := strconv.FormatUint(absU(m), 10)
	if scale > 0 {
		for len(digits) <= scale {
			digits = "0" + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	switch rng.IntN(4) {
	case 0: // extra zeros
		if scale == 0 {
			digits += "."
		}
		digits += strings.Repeat("0", 1+rng.IntN(3))
	case 1: // trimmed
		if scale > 0 {
			digits = strings.TrimRight(digits, "0")
			digits = strings.TrimSuffix(digits, ".")
		}
	}
	if neg && strings.Trim(digits, "0.") != "" {
		digits = "-" + digits
	}
	return digits
}

func absU(m int64) uint64 {
	if m < 0 {
		return uint64(-m)
	}
	return uint64(m)
}

// gen produces a random event stream for a few symbols.
type gen struct {
	rng  *rand.Rand
	syms map[string]*refSymbol
	// Prices each symbol used, to re-add deleted levels.
	used map[string][]int64
	mid  map[string]int64
	// seen counts the kinds of events generated, to show the stream
	// covers them.
	seen map[string]int
}

func (g *gen) price(sym string, side orderbook.Side) int64 {
	r := g.rng
	if used := g.used[sym]; len(used) > 0 && r.IntN(3) == 0 {
		p := used[r.IntN(len(used))] // update, delete or re-add a known price
		if _, in := g.syms[sym].sides[side][p]; !in {
			g.seen["re-add or absent"]++
		}
		return p
	}
	var p int64
	switch r.IntN(10) {
	case 0: // far from the top, possibly negative
		p = r.Int64N(1<<50) - 1<<49
		g.seen["far"]++
	default:
		off := r.Int64N(200)
		if side == orderbook.Bid {
			p = g.mid[sym] - 1 - off
		} else {
			p = g.mid[sym] + 1 + off
		}
	}
	g.used[sym] = append(g.used[sym], p)
	return p
}

func (g *gen) size(zeroOK bool) int64 {
	if zeroOK && g.rng.IntN(4) == 0 {
		return 0
	}
	if g.rng.IntN(20) == 0 {
		return g.rng.Int64N(1<<55) + 1
	}
	return g.rng.Int64N(100000) + 1
}

func (g *gen) levels(sym string, side orderbook.Side, n int, zeroOK bool) (string, [][2]int64) {
	st := g.syms[sym]
	var b strings.Builder
	var lv [][2]int64
	seen := map[int64]bool{}
	b.WriteByte('[')
	for range n {
		p := g.price(sym, side)
		if !zeroOK && seen[p] {
			continue // snapshot prices are unique
		}
		seen[p] = true
		q := g.size(zeroOK)
		if len(lv) > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "[%q,%q]", decimal(g.rng, p, st.pscale), decimal(g.rng, q, st.sscale))
		lv = append(lv, [2]int64{p, q})
	}
	b.WriteByte(']')
	return b.String(), lv
}

// next returns the next record for a random symbol and applies it to the
// reference.
func (g *gen) next(symbols []string) (string, string) {
	r := g.rng
	sym := symbols[r.IntN(len(symbols))]
	st := g.syms[sym]
	ts := int64(1767225600000000 + st.recordCount)
	st.recordCount++
	switch k := r.IntN(100); {
	case !st.defined || k < 2: // instrument, sometimes with new scales
		ps, ss := st.pscale, st.sscale
		if !st.defined || r.IntN(2) == 0 {
			ps, ss = r.IntN(9), r.IntN(9)
			if r.IntN(10) == 0 {
				ps, ss = 12+r.IntN(7), r.IntN(19)
			}
		}
		if st.defined && (ps != st.pscale || ss != st.sscale) {
			g.seen["redefine"]++
		}
		if !st.defined || ps != st.pscale || ss != st.sscale {
			st.pscale, st.sscale = ps, ss
			st.reset()
			st.state, st.crossed = market.Waiting, false
			g.used[sym] = nil
		}
		st.defined = true
		return sym, fmt.Sprintf(`{"type":"instrument","symbol":%q,"ts":%d,"price_scale":%d,"size_scale":%d}`, sym, ts, ps, ss)
	case k < 8 || st.state != market.Live && k < 30: // snapshot
		seq := st.seq
		switch {
		case r.IntN(5) == 0:
			seq += uint64(r.IntN(50))
		case st.state != market.Live:
			seq += uint64(r.IntN(1000))
		}
		if r.IntN(20) == 0 && seq > 3 {
			seq -= 3 // older than the live book: ignored
		}
		bids, bl := g.levels(sym, orderbook.Bid, r.IntN(30), false)
		asks, al := g.levels(sym, orderbook.Ask, r.IntN(30), false)
		g.seen["snapshot"]++
		if st.state == market.Live && seq < st.seq {
			g.seen["old snapshot"]++
		} else {
			st.reset()
			for _, l := range bl {
				st.sides[orderbook.Bid][l[0]] = l[1]
			}
			for _, l := range al {
				st.sides[orderbook.Ask][l[0]] = l[1]
			}
			st.state, st.seq = market.Live, seq
			st.crossed = st.isCrossed()
			if st.crossed {
				g.seen["crossed"]++
			}
		}
		return sym, fmt.Sprintf(`{"type":"snapshot","symbol":%q,"ts":%d,"seq":%d,"bids":%s,"asks":%s}`, sym, ts, seq, bids, asks)
	default: // delta: usually in sequence, sometimes a gap or a replay
		seq := st.seq + 1
		switch r.IntN(60) {
		case 0:
			seq += 1 + uint64(r.IntN(3))
		case 1:
			seq = st.seq
		}
		bids, bl := g.levels(sym, orderbook.Bid, r.IntN(4), true)
		asks, al := g.levels(sym, orderbook.Ask, r.IntN(4)+1-min(len(bl), 1), true)
		if r.IntN(50) == 0 {
			// A price finer than the scale: the record is rejected whole
			// and its sequence is not consumed.
			g.seen["precision"]++
			bad := strconv.FormatInt(g.mid[sym]%1000, 10) + "." + strings.Repeat("0", st.pscale) + "5"
			return sym, fmt.Sprintf(`{"type":"delta","symbol":%q,"ts":%d,"seq":%d,"bids":[[%q,"1"]],"asks":%s}`, sym, ts, seq, bad, asks)
		}
		if st.state == market.Live && seq > st.seq {
			if seq != st.seq+1 {
				g.seen["gap"]++
				st.state = market.Stale
			} else {
				for side, lv := range [2][][2]int64{bl, al} {
					for _, l := range lv {
						if l[1] == 0 {
							g.seen["delete"]++
							delete(st.sides[side], l[0])
						} else {
							st.sides[side][l[0]] = l[1]
						}
					}
				}
				st.seq = seq
				st.crossed = st.crossed || st.isCrossed()
			}
		}
		g.mid[sym] += int64(r.IntN(5)) - 2
		return sym, fmt.Sprintf(`{"type":"delta","symbol":%q,"ts":%d,"seq":%d,"bids":%s,"asks":%s}`, sym, ts, seq, bids, asks)
	}
}

// TestShardMatchesReference applies random event streams with Shard.Apply
// and compares every symbol's book, state and sequence with the reference
// after every record.
func TestShardMatchesReference(t *testing.T) {
	seeds, events := 12, 3000
	if testing.Short() {
		seeds, events = 3, 1000
	}
	symbols := []string{"AAA", "BBB-USD", "C"}
	seen := map[string]int{}
	for seed := range seeds {
		t.Run(strconv.Itoa(seed), func(t *testing.T) {
			sh := NewShard(ShardConfig{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, 0)
			g := &gen{
				rng:  rand.New(rand.NewPCG(uint64(seed), 7)),
				syms: map[string]*refSymbol{},
				used: map[string][]int64{},
				mid:  map[string]int64{},
				seen: seen,
			}
			for _, s := range symbols {
				g.syms[s] = &refSymbol{}
				g.mid[s] = g.rng.Int64N(1_000_000)
			}
			for i := range events {
				sym, rec := g.next(symbols)
				sh.Apply([]byte(sym), []byte(rec))
				ref := g.syms[sym]
				ref.lastRecord = rec
				if err := compare(sh, sym, ref); err != nil {
					t.Fatalf("event %d (%s): %v", i, rec, err)
				}
			}
		})
	}
	for _, k := range []string{"snapshot", "old snapshot", "gap", "crossed", "delete", "re-add or absent", "far", "redefine", "precision"} {
		if seen[k] == 0 {
			t.Errorf("the streams never produced %q", k)
		}
	}
	t.Logf("event kinds: %v", seen)
}

func compare(sh *Shard, sym string, ref *refSymbol) error {
	st := sh.symbols[sym]
	if st == nil {
		return fmt.Errorf("%s not defined by the shard", sym)
	}
	if st.PriceScale() != ref.pscale || st.SizeScale() != ref.sscale {
		return fmt.Errorf("scales %d/%d, want %d/%d", st.PriceScale(), st.SizeScale(), ref.pscale, ref.sscale)
	}
	pub := st.Published()
	if pub.State != ref.served() {
		return fmt.Errorf("published state %v, want %v", pub.State, ref.served())
	}
	if want := ref.served() == market.Stale && ref.state == market.Live; want != (pub.Reason == "crossed") {
		return fmt.Errorf("published stale reason %q, crossed %v", pub.Reason, want)
	}
	if ref.state == market.Waiting {
		return nil // nothing served
	}
	if st.Seq() != ref.seq && ref.state == market.Live {
		return fmt.Errorf("seq %d, want %d", st.Seq(), ref.seq)
	}
	if ref.state == market.Stale {
		return nil // not served until the next snapshot
	}
	for side := orderbook.Bid; side <= orderbook.Ask; side++ {
		want := ref.sorted(side)
		got := st.Book().Top(side, st.Book().Len(side)+1, nil)
		if !slices.Equal(got, want) {
			return fmt.Errorf("%v side differs:\n got %v\nwant %v", side, got, want)
		}
	}
	return nil
}
