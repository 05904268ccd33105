package client

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/marketfeed/marketfeed/schemas"
)

const chBTC = "book.BTC-USD"

func snap(seq uint64, bids, asks [][2]string) *schemas.ServerMessage {
	return &schemas.ServerMessage{Type: schemas.TypeSnapshot, Channel: chBTC, Seq: seq, Bids: bids, Asks: asks}
}

func upd(first, last uint64, bids, asks [][2]string) *schemas.ServerMessage {
	return &schemas.ServerMessage{Type: schemas.TypeUpdate, Channel: chBTC, FirstSeq: first, Seq: last, Bids: bids, Asks: asks}
}

func status(s string) *schemas.ServerMessage {
	return &schemas.ServerMessage{Type: schemas.TypeStatus, Channel: chBTC, Status: s}
}

func TestBookApply(t *testing.T) {
	base := snap(10,
		[][2]string{{"99.00", "1.0"}, {"100.00", "2.0"}, {"98.50", "3.0"}},
		[][2]string{{"101.00", "4.0"}, {"100.50", "5.0"}})
	tests := []struct {
		name      string
		msgs      []*schemas.ServerMessage
		wantErrs  []error // one per message
		wantState BookState
		wantSeq   uint64
		wantBids  [][2]string
		wantAsks  [][2]string
	}{
		{
			name:      "snapshot sorts both sides",
			msgs:      []*schemas.ServerMessage{base},
			wantErrs:  []error{nil},
			wantState: BookSynced,
			wantSeq:   10,
			wantBids:  [][2]string{{"100.00", "2.0"}, {"99.00", "1.0"}, {"98.50", "3.0"}},
			wantAsks:  [][2]string{{"100.50", "5.0"}, {"101.00", "4.0"}},
		},
		{
			name: "update inserts, replaces and deletes",
			msgs: []*schemas.ServerMessage{base, upd(11, 13,
				[][2]string{{"99.50", "7.0"}, {"100.00", "0.000"}, {"98.50", "3.5"}},
				[][2]string{{"100.75", "6.0"}, {"101.00", "0"}})},
			wantErrs:  []error{nil, nil},
			wantState: BookSynced,
			wantSeq:   13,
			wantBids:  [][2]string{{"99.50", "7.0"}, {"99.00", "1.0"}, {"98.50", "3.5"}},
			wantAsks:  [][2]string{{"100.50", "5.0"}, {"100.75", "6.0"}},
		},
		{
			name:      "delete of an absent level is a no-op",
			msgs:      []*schemas.ServerMessage{base, upd(11, 11, [][2]string{{"42.00", "0.0"}}, nil)},
			wantErrs:  []error{nil, nil},
			wantState: BookSynced,
			wantSeq:   11,
			wantBids:  [][2]string{{"100.00", "2.0"}, {"99.00", "1.0"}, {"98.50", "3.0"}},
			wantAsks:  [][2]string{{"100.50", "5.0"}, {"101.00", "4.0"}},
		},
		{
			name:      "equal value with other digits replaces the level and keeps the new string",
			msgs:      []*schemas.ServerMessage{base, upd(11, 11, [][2]string{{"100.0", "9.0"}}, [][2]string{{"100.500", "0.00"}})},
			wantErrs:  []error{nil, nil},
			wantState: BookSynced,
			wantSeq:   11,
			wantBids:  [][2]string{{"100.0", "9.0"}, {"99.00", "1.0"}, {"98.50", "3.0"}},
			wantAsks:  [][2]string{{"101.00", "4.0"}},
		},
		{
			name:      "gap marks the book and keeps the levels",
			msgs:      []*schemas.ServerMessage{base, upd(12, 12, [][2]string{{"99.00", "0"}}, nil), upd(13, 13, nil, [][2]string{{"100.50", "0"}})},
			wantErrs:  []error{nil, ErrGap, ErrNotSynced},
			wantState: BookGap,
			wantSeq:   10,
			wantBids:  [][2]string{{"100.00", "2.0"}, {"99.00", "1.0"}, {"98.50", "3.0"}},
			wantAsks:  [][2]string{{"100.50", "5.0"}, {"101.00", "4.0"}},
		},
		{
			name:      "replayed update is a gap",
			msgs:      []*schemas.ServerMessage{base, upd(10, 10, nil, [][2]string{{"100.50", "0"}})},
			wantErrs:  []error{nil, ErrGap},
			wantState: BookGap,
			wantSeq:   10,
			wantBids:  [][2]string{{"100.00", "2.0"}, {"99.00", "1.0"}, {"98.50", "3.0"}},
			wantAsks:  [][2]string{{"100.50", "5.0"}, {"101.00", "4.0"}},
		},
		{
			name:      "inverted range is a gap",
			msgs:      []*schemas.ServerMessage{base, upd(11, 10, nil, nil)},
			wantErrs:  []error{nil, ErrGap},
			wantState: BookGap,
			wantSeq:   10,
			wantBids:  [][2]string{{"100.00", "2.0"}, {"99.00", "1.0"}, {"98.50", "3.0"}},
			wantAsks:  [][2]string{{"100.50", "5.0"}, {"101.00", "4.0"}},
		},
		{
			name:      "snapshot after gap resyncs",
			msgs:      []*schemas.ServerMessage{base, upd(15, 15, nil, nil), snap(20, [][2]string{{"1.5", "1"}}, nil)},
			wantErrs:  []error{nil, ErrGap, nil},
			wantState: BookSynced,
			wantSeq:   20,
			wantBids:  [][2]string{{"1.5", "1"}},
			wantAsks:  [][2]string{},
		},
		{
			name:      "update before any snapshot",
			msgs:      []*schemas.ServerMessage{upd(1, 1, [][2]string{{"1.00", "1.00"}}, nil)},
			wantErrs:  []error{ErrNotSynced},
			wantState: BookEmpty,
			wantSeq:   0,
			wantBids:  [][2]string{},
			wantAsks:  [][2]string{},
		},
		{
			name:      "status waiting",
			msgs:      []*schemas.ServerMessage{status(schemas.StatusWaiting)},
			wantErrs:  []error{nil},
			wantState: BookWaiting,
			wantBids:  [][2]string{},
			wantAsks:  [][2]string{},
		},
		{
			name:      "status stale freezes the view until the next snapshot",
			msgs:      []*schemas.ServerMessage{base, status(schemas.StatusStale), upd(11, 11, nil, [][2]string{{"100.50", "0"}})},
			wantErrs:  []error{nil, nil, ErrNotSynced},
			wantState: BookStale,
			wantSeq:   10,
			wantBids:  [][2]string{{"100.00", "2.0"}, {"99.00", "1.0"}, {"98.50", "3.0"}},
			wantAsks:  [][2]string{{"100.50", "5.0"}, {"101.00", "4.0"}},
		},
		{
			name: "other channels and types are ignored",
			msgs: []*schemas.ServerMessage{
				base,
				{Type: schemas.TypeUpdate, Channel: "book.ETH-USD", FirstSeq: 99, Seq: 99},
				{Type: schemas.TypeTicker, Channel: chBTC},
				nil,
			},
			wantErrs:  []error{nil, nil, nil, nil},
			wantState: BookSynced,
			wantSeq:   10,
			wantBids:  [][2]string{{"100.00", "2.0"}, {"99.00", "1.0"}, {"98.50", "3.0"}},
			wantAsks:  [][2]string{{"100.50", "5.0"}, {"101.00", "4.0"}},
		},
		{
			name:      "snapshot with duplicate prices keeps the last, drops zero sizes",
			msgs:      []*schemas.ServerMessage{snap(3, [][2]string{{"5.0", "1"}, {"4.0", "0"}, {"5.00", "2"}}, [][2]string{{"6", "0.0"}})},
			wantErrs:  []error{nil},
			wantState: BookSynced,
			wantSeq:   3,
			wantBids:  [][2]string{{"5.00", "2"}},
			wantAsks:  [][2]string{},
		},
		{
			name:      "invalid price in update is rejected whole",
			msgs:      []*schemas.ServerMessage{base, upd(11, 11, [][2]string{{"99.50", "1"}, {"1e3", "1"}}, nil)},
			wantErrs:  []error{nil, ErrInvalidLevel},
			wantState: BookGap,
			wantSeq:   10,
			wantBids:  [][2]string{{"100.00", "2.0"}, {"99.00", "1.0"}, {"98.50", "3.0"}},
			wantAsks:  [][2]string{{"100.50", "5.0"}, {"101.00", "4.0"}},
		},
		{
			name:      "negative size in snapshot is rejected",
			msgs:      []*schemas.ServerMessage{snap(1, [][2]string{{"1.00", "-1.00"}}, nil)},
			wantErrs:  []error{ErrInvalidLevel},
			wantState: BookGap,
			wantBids:  [][2]string{},
			wantAsks:  [][2]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBook(chBTC)
			for i, m := range tt.msgs {
				err := b.Apply(m)
				if tt.wantErrs[i] == nil && err != nil || tt.wantErrs[i] != nil && !errors.Is(err, tt.wantErrs[i]) {
					t.Errorf("Apply #%d = %v, want %v", i, err, tt.wantErrs[i])
				}
			}
			if b.State() != tt.wantState || b.Synced() != (tt.wantState == BookSynced) {
				t.Errorf("state %v (synced %v), want %v", b.State(), b.Synced(), tt.wantState)
			}
			if b.Seq() != tt.wantSeq {
				t.Errorf("Seq = %d, want %d", b.Seq(), tt.wantSeq)
			}
			if !reflect.DeepEqual(b.Bids(), tt.wantBids) {
				t.Errorf("Bids = %v, want %v", b.Bids(), tt.wantBids)
			}
			if !reflect.DeepEqual(b.Asks(), tt.wantAsks) {
				t.Errorf("Asks = %v, want %v", b.Asks(), tt.wantAsks)
			}
		})
	}
}

// refSide is the reference model of one side: canonical price → level.
type refSide map[string]refLevel

type refLevel struct {
	price decimal.Decimal
	entry [2]string
}

func (r refSide) set(e [2]string) {
	p := decimal.RequireFromString(e[0])
	k := p.String()
	if decimal.RequireFromString(e[1]).IsZero() {
		delete(r, k)
		return
	}
	r[k] = refLevel{price: p, entry: e}
}

func (r refSide) sorted(desc bool) [][2]string {
	lv := make([]refLevel, 0, len(r))
	for _, l := range r {
		lv = append(lv, l)
	}
	slices.SortFunc(lv, func(a, b refLevel) int {
		if desc {
			return b.price.Cmp(a.price)
		}
		return a.price.Cmp(b.price)
	})
	out := make([][2]string, len(lv))
	for i, l := range lv {
		out[i] = l.entry
	}
	return out
}

// randPrice writes a price drawn from a small range so that updates hit
// existing levels often; the number of fractional digits varies to check
// that comparison is by value.
func randPrice(r *rand.Rand) string {
	units := r.IntN(250) - 50 // some negative prices too
	s := decimal.New(int64(units), -2)
	return s.StringFixed(int32(2 + r.IntN(3)))
}

func randSize(r *rand.Rand) string {
	if r.IntN(4) == 0 {
		return []string{"0", "0.0", "0.00000000"}[r.IntN(3)]
	}
	return decimal.New(int64(1+r.IntN(1_000_000)), -int32(r.IntN(9))).String()
}

func randEntries(r *rand.Rand, n int) [][2]string {
	out := make([][2]string, n)
	for i := range out {
		out[i] = [2]string{randPrice(r), randSize(r)}
	}
	return out
}

func TestBookMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 30 {
		b := NewBook(chBTC)
		bids, asks := refSide{}, refSide{}
		seq := uint64(r.IntN(1000))
		s := snap(seq, randEntries(r, r.IntN(30)), randEntries(r, r.IntN(30)))
		for _, e := range s.Bids {
			bids.set(e)
		}
		for _, e := range s.Asks {
			asks.set(e)
		}
		if err := b.Apply(s); err != nil {
			t.Fatalf("round %d snapshot: %v", round, err)
		}
		for step := range 200 {
			n := uint64(1 + r.IntN(3))
			u := upd(seq+1, seq+n, randEntries(r, r.IntN(6)), randEntries(r, r.IntN(6)))
			seq += n
			for _, e := range u.Bids {
				bids.set(e)
			}
			for _, e := range u.Asks {
				asks.set(e)
			}
			if err := b.Apply(u); err != nil {
				t.Fatalf("round %d step %d: %v", round, step, err)
			}
			if step%10 != 9 {
				continue // the reference sort is slow; compare every 10 updates
			}
			if want := bids.sorted(true); !reflect.DeepEqual(b.Bids(), want) {
				t.Fatalf("round %d step %d: bids\n got %v\nwant %v", round, step, b.Bids(), want)
			}
			if want := asks.sorted(false); !reflect.DeepEqual(b.Asks(), want) {
				t.Fatalf("round %d step %d: asks\n got %v\nwant %v", round, step, b.Asks(), want)
			}
		}
		if b.Seq() != seq || !b.Synced() {
			t.Fatalf("round %d: seq %d synced %v, want %d true", round, b.Seq(), b.Synced(), seq)
		}
	}
}

func TestCmpDecimalMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	gen := func() string {
		// mantissas beyond int64 and various scales, leading zeros, "-0"
		digits := 1 + r.IntN(25)
		b := make([]byte, 0, digits+3)
		if r.IntN(3) == 0 {
			b = append(b, '-')
		}
		for range digits {
			b = append(b, byte('0'+r.IntN(10)))
		}
		if frac := r.IntN(6); frac > 0 {
			b = append(b, '.')
			for range frac {
				b = append(b, byte('0'+r.IntN(2)*r.IntN(10)))
			}
		}
		return string(b)
	}
	for range 20000 {
		a, b := gen(), gen()
		if !validDecimal(a) || !validDecimal(b) {
			t.Fatalf("generated invalid %q or %q", a, b)
		}
		want := decimal.RequireFromString(a).Cmp(decimal.RequireFromString(b))
		if got := cmpDecimal(a, b); got != want {
			t.Fatalf("cmpDecimal(%q, %q) = %d, want %d", a, b, got, want)
		}
		if got, want := isZeroDecimal(a), decimal.RequireFromString(a).IsZero(); got != want {
			t.Fatalf("isZeroDecimal(%q) = %v, want %v", a, got, want)
		}
	}
}

func TestValidDecimal(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{in: "0", want: true},
		{in: "-0.00", want: true},
		{in: "64123.10", want: true},
		{in: "007", want: true},
		{in: "", want: false},
		{in: "-", want: false},
		{in: ".5", want: false},
		{in: "5.", want: false},
		{in: "+5", want: false},
		{in: "1e3", want: false},
		{in: "1.2.3", want: false},
		{in: " 1", want: false},
		{in: "1,5", want: false},
	}
	for _, tt := range tests {
		if got := validDecimal(tt.in); got != tt.want {
			t.Errorf("validDecimal(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func BenchmarkBookUpdate(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	bids := make([][2]string, 500)
	asks := make([][2]string, 500)
	for i := range bids {
		bids[i] = [2]string{fmt.Sprintf("%d.%02d", 60000-i, 0), "1.00000000"}
		asks[i] = [2]string{fmt.Sprintf("%d.%02d", 60001+i, 0), "1.00000000"}
	}
	book := NewBook(chBTC)
	if err := book.Apply(snap(1, bids, asks)); err != nil {
		b.Fatal(err)
	}
	updates := make([]*schemas.ServerMessage, 1024)
	for i := range updates {
		p := r.IntN(500)
		size := "2.50000000"
		if i%2 == 1 {
			size = "1.00000000"
		}
		updates[i] = upd(0, 0, [][2]string{{bids[p][0], size}}, [][2]string{{asks[p][0], size}})
	}
	seq := uint64(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		u := updates[i%len(updates)]
		u.FirstSeq, u.Seq = seq+1, seq+1
		seq++
		if err := book.Apply(u); err != nil {
			b.Fatal(err)
		}
	}
}

// A restarted publisher's snapshot has a new epoch and a lower seq: it
// resets the book like any snapshot; an update of another epoch than the
// book's is a gap. Stale statuses carry their reason; an unknown status is
// treated as stale.
func TestBookEpochAndReasons(t *testing.T) {
	const ch = "book.BTC-USD"
	b := NewBook(ch)
	snap := func(epoch, seq uint64, bid string) *schemas.ServerMessage {
		return &schemas.ServerMessage{Type: schemas.TypeSnapshot, Channel: ch, Epoch: epoch, Seq: seq, Bids: [][2]string{{bid, "1"}}, Asks: [][2]string{}}
	}
	upd := func(epoch, seq uint64, bid string) *schemas.ServerMessage {
		return &schemas.ServerMessage{Type: schemas.TypeUpdate, Channel: ch, Epoch: epoch, FirstSeq: seq, Seq: seq, Bids: [][2]string{{bid, "2"}}, Asks: [][2]string{}}
	}
	for i, step := range []struct {
		m       *schemas.ServerMessage
		err     error
		state   BookState
		epoch   uint64
		seq     uint64
		reason  string
		bestBid string
	}{
		{snap(5, 1000, "10"), nil, BookSynced, 5, 1000, "", "10"},
		{upd(5, 1001, "10"), nil, BookSynced, 5, 1001, "", "10"},
		{snap(6, 3, "11"), nil, BookSynced, 6, 3, "", "11"},
		{upd(5, 4, "11"), ErrGap, BookGap, 6, 3, "", "11"},
		{snap(6, 4, "12"), nil, BookSynced, 6, 4, "", "12"},
		{&schemas.ServerMessage{Type: schemas.TypeStatus, Channel: ch, Status: schemas.StatusStale, Reason: schemas.ReasonFeedDown}, nil, BookStale, 6, 4, "feed_down", "12"},
		{snap(6, 4, "12"), nil, BookSynced, 6, 4, "", "12"},
		{&schemas.ServerMessage{Type: schemas.TypeStatus, Channel: ch, Status: "degraded"}, nil, BookStale, 6, 4, "", "12"},
	} {
		err := b.Apply(step.m)
		if !errors.Is(err, step.err) || (step.err == nil) != (err == nil) {
			t.Fatalf("step %d: error %v, want %v", i, err, step.err)
		}
		if b.State() != step.state || b.Epoch() != step.epoch || b.Seq() != step.seq || b.Reason() != step.reason || b.Bids()[0][0] != step.bestBid {
			t.Fatalf("step %d: %s epoch %d seq %d reason %q bid %v", i, b.State(), b.Epoch(), b.Seq(), b.Reason(), b.Bids())
		}
	}
}
