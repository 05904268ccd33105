package market

import (
	"cmp"
	"errors"
	"slices"

	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// ParseInstrument reads an instrument definition record: its scales, and
// its tick and lot sizes (1 when absent), which must be positive.
func ParseInstrument(r *schemas.Record) (Instrument, Rejection) {
	inst := Instrument{Symbol: string(r.Symbol), PriceScale: r.PriceScale, SizeScale: r.SizeScale, Tick: 1, Lot: 1}
	var err error
	if r.TickSize != nil {
		if inst.Tick, err = fixedpoint.ParseBytes(r.TickSize, r.PriceScale); err != nil || inst.Tick <= 0 {
			return Instrument{}, valueRejection(err, "tick_size")
		}
	}
	if r.LotSize != nil {
		if inst.Lot, err = fixedpoint.ParseBytes(r.LotSize, r.SizeScale); err != nil || inst.Lot <= 0 {
			return Instrument{}, valueRejection(err, "lot_size")
		}
	}
	return inst, Rejection{}
}

// valueRejection rejects a record for a decimal that does not fit the
// instrument (err nil: a value that must be positive is not).
func valueRejection(err error, field string) Rejection {
	switch {
	case errors.Is(err, fixedpoint.ErrPrecision):
		return Rejection{ReasonPrecision, err}
	case errors.Is(err, fixedpoint.ErrRange):
		return Rejection{ReasonOutOfRange, err}
	case err == nil:
		return Rejection{string(schemas.ReasonInvalidField), errors.New(field + " must be positive")}
	default:
		return Rejection{string(schemas.ReasonBadDecimal), err}
	}
}

// Define applies a new definition of the symbol's instrument (its name is
// the symbol's). A new tick or lot size applies to the following records.
// New scales make every mantissa meaningless: the book is emptied, the
// ticker replaced, and the book waits for the next snapshot
// (Change.Redefined).
func (s *Symbol) Define(inst Instrument) (c Change) {
	c.Applied = true
	s.inst.Tick, s.inst.Lot = inst.Tick, inst.Lot
	if s.inst.PriceScale == inst.PriceScale && s.inst.SizeScale == inst.SizeScale {
		return c
	}
	s.inst.PriceScale, s.inst.SizeScale = inst.PriceScale, inst.SizeScale
	s.book.Reset()
	s.ticker = orderbook.NewTicker(inst.PriceScale, inst.SizeScale)
	s.newCandles()
	s.seqState, s.crossed, s.silent = Waiting, false, false
	s.state, s.reason, s.known = Waiting, "", false
	s.hist.stop()
	s.trades.reset(-1) // prices at the old scales; the owner says where trades start again (SetTradeHistory)
	c.Redefined, c.Status = true, true
	s.publish()
	return c
}

// parseLevels converts the record's levels at the instrument's scales
// into the scratch, checking the tick and lot grid. On failure it returns
// the rejection.
func (s *Symbol) parseLevels(r *schemas.Record) Rejection {
	for side, in := range [2][]schemas.Level{r.Bids, r.Asks} {
		out := s.scratch.levels[side][:0]
		for _, l := range in {
			p, err := fixedpoint.ParseBytes(l.Price, s.inst.PriceScale)
			if err != nil {
				return valueRejection(err, "price")
			}
			q, err := fixedpoint.ParseBytes(l.Size, s.inst.SizeScale)
			if err != nil {
				return valueRejection(err, "size")
			}
			if p%s.inst.Tick != 0 {
				return Rejection{Reason: ReasonOffTick}
			}
			if q%s.inst.Lot != 0 {
				return Rejection{Reason: ReasonOffLot}
			}
			out = append(out, orderbook.Level{Price: p, Size: q})
		}
		s.scratch.levels[side] = out
	}
	return Rejection{}
}

// ApplySnapshot applies a snapshot record of the symbol. A snapshot of an
// older epoch, or of the book's epoch older than a live book, is rejected;
// one of a newer epoch replaces the book whatever its seq; one at the live
// book's seq verifies it (and replaces it if it differs).
func (s *Symbol) ApplySnapshot(r *schemas.Record) (c Change) {
	s.advance(r.TS)
	newEpoch := r.Epoch > s.epoch
	switch {
	case r.Epoch < s.epoch:
		c.Reason = ReasonOldEpoch
		return c
	case !newEpoch && s.seqState == Live && r.Seq < s.seq:
		c.Reason = ReasonStaleSnapshot
		return c
	}
	if c.Rejection = s.parseLevels(r); c.Reason != "" {
		return c
	}
	lv := &s.scratch.levels
	// Best first on each side; equal neighbours are duplicate prices.
	slices.SortFunc(lv[orderbook.Bid], func(a, b orderbook.Level) int { return cmp.Compare(b.Price, a.Price) })
	slices.SortFunc(lv[orderbook.Ask], func(a, b orderbook.Level) int { return cmp.Compare(a.Price, b.Price) })
	for _, side := range lv {
		for i := 1; i < len(side); i++ {
			if side[i].Price == side[i-1].Price {
				c.Reason = ReasonDuplicate
				return c
			}
		}
	}
	c.Snapshot = SnapshotApplied
	switch {
	case newEpoch && s.seqState != Waiting:
		c.Snapshot, c.NewEpoch = SnapshotNewEpoch, true
	case !newEpoch && s.seqState == Live && r.Seq == s.seq:
		if s.bookEquals() {
			c.Snapshot = SnapshotVerified
			s.advanced = true
			if s.silent || s.crossed {
				// Confirmed: fresh again, and crossed only if it still is.
				s.silent, s.crossed = false, s.book.Crossed()
				s.serve(&c)
				s.publish()
			}
			return c
		}
		c.Snapshot = SnapshotCorrected
	}
	s.book.Reset()
	for side, levels := range lv {
		for _, l := range levels {
			s.book.Set(orderbook.Side(side), l.Price, l.Size)
		}
	}
	c.Recovered = s.seqState == Stale || s.crossed
	s.seqState, s.epoch, s.seq, s.bookTS = Live, r.Epoch, r.Seq, r.TS
	s.hist.restart(r.Seq)
	s.ts = max(s.ts, r.TS)
	s.advanced, s.silent = true, false
	s.crossed = s.book.Crossed()
	c.Applied, c.Crossed = true, s.crossed
	if reason := s.staleReason(); reason != "" {
		s.setStale(reason, &c)
	} else {
		s.reset(&c)
	}
	s.publish()
	return c
}

func (s *Symbol) bookEquals() bool {
	for side, lv := range s.scratch.levels {
		if s.book.Len(orderbook.Side(side)) != len(lv) {
			return false
		}
		for i, l := range lv {
			if s.book.At(orderbook.Side(side), i) != l {
				return false
			}
		}
	}
	return true
}

// ApplyDelta applies a delta record of the symbol: its levels, if its seq
// follows the book's. A delta that does not (a gap), or of a newer
// publisher epoch, makes the book stale; one whose levels do not fit the
// instrument is rejected whole and its seq not consumed. It does not
// allocate.
func (s *Symbol) ApplyDelta(r *schemas.Record) (c Change) {
	s.advance(r.TS)
	if r.Epoch < s.epoch {
		c.Reason = ReasonOldEpoch
		return c
	}
	if s.seqState != Live {
		c.Skipped = true
		return c
	}
	if r.Epoch > s.epoch {
		// The publisher renumbered: nothing of the new epoch can be
		// applied before its snapshot.
		c.Gap, c.NewEpoch, c.Skipped = true, true, true
		s.breakSeq(&c)
		return c
	}
	if r.Seq <= s.seq {
		c.Reason = ReasonSeqBackwards
		return c
	}
	if c.Rejection = s.parseLevels(r); c.Reason != "" {
		// Not applied and its sequence not consumed: if the exchange meant
		// it, the next delta shows a gap and the book goes stale.
		return c
	}
	if r.Seq != s.seq+1 {
		c.Gap = true
		s.breakSeq(&c)
		return c
	}
	s.hist.begin(r.Seq, r.TS)
	for side, lv := range s.scratch.levels {
		for _, l := range lv {
			s.setLevel(orderbook.Side(side), l.Price, l.Size)
		}
	}
	s.seq, s.bookTS = r.Seq, r.TS
	s.ts = max(s.ts, r.TS)
	s.advanced, s.silent = true, false
	c.Applied, c.Book = true, true
	if s.book.Crossed() {
		c.Crossed = true
		if !s.crossed {
			s.crossed, c.BecameCrossed = true, true
		}
	}
	s.serve(&c) // stale if crossed; served again if it was silent
	s.publish()
	return c
}

func (s *Symbol) breakSeq(c *Change) {
	s.seqState = Stale
	s.hist.stop()
	s.serve(c)
	s.publish()
}

// ApplyTrade applies a trade record of the symbol to its ticker, its
// candles and its trade history and returns the trade (ApplyTradeAt with
// an unknown offset).
func (s *Symbol) ApplyTrade(r *schemas.Record) (Trade, Change) { return s.ApplyTradeAt(r, -1) }

// ApplyTradeAt applies a trade record of the symbol, read at offset of
// its partition (-1: unknown), to its ticker, its candles and its trade
// history, and returns the trade. A trade older than a resolution's
// candle in progress is left out of that resolution (Change.CandleLate).
// It does not allocate once the history is full.
func (s *Symbol) ApplyTradeAt(r *schemas.Record, offset int64) (Trade, Change) {
	var c Change
	s.advance(r.TS)
	t, rej := s.inst.ParseTrade(r)
	if rej.Reason != "" {
		c.Rejection = rej
		return Trade{}, c
	}
	s.ticker.Add(orderbook.Trade{TS: r.TS, Price: t.Price, Size: t.Size})
	for _, cs := range s.candles {
		if !cs.Add(r.TS, t.Price, t.Size) {
			c.CandleLate = true
		}
	}
	s.trades.add(&t, offset)
	s.ts, s.known = max(s.ts, r.TS), true
	c.Applied, c.Trade = true, true
	return t, c
}
