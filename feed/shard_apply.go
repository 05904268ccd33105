package feed

import (
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
)

// The shard's side of applying a record: the symbol validates and applies
// it (package market); the shard counts the outcome, logs what an
// operator needs to know, and tells the listener.

func (s *Shard) applyInstrument(sym *market.Symbol, r *schemas.Record) {
	inst, rej := market.ParseInstrument(r)
	if rej.Reason != "" {
		s.reject(rej.Reason, rej.Err)
		return
	}
	s.m.Applied.WithLabelValues("instrument").Inc()
	if sym == nil {
		sym = market.NewSymbol(inst, s, &s.scratch)
		sym.SetHistoryLimits(s.cfg.History)
		sym.SetTradeHistory(s.cfg.Trades, s.partition, s.offset)
		if s.feedDown {
			sym.SetFeedDown(true, s.checked)
		}
		s.symbols[inst.Symbol] = sym
		s.listener.Defined(sym)
		s.log.Info("instrument defined", "symbol", inst.Symbol, "price_scale", inst.PriceScale, "size_scale", inst.SizeScale)
		return
	}
	before := sym.TradeBytes()
	if c := sym.Define(inst); c.Redefined {
		sym.SetTradeHistory(s.cfg.Trades, s.partition, s.offset)
		s.cfg.TradeHistory.Bytes.Add(float64(sym.TradeBytes() - before))
		s.log.Warn("instrument scale changed; book waits for the next snapshot", "symbol", inst.Symbol)
		s.listener.Redefined(sym)
	}
}

func (s *Shard) applySnapshot(sym *market.Symbol, r *schemas.Record) {
	oldEpoch, oldSeq := sym.Epoch(), sym.Seq()
	c := sym.ApplySnapshot(r)
	if c.Reason != "" {
		s.reject(c.Reason, c.Err)
		return
	}
	s.m.Snapshots.WithLabelValues(c.Snapshot.String()).Inc()
	switch c.Snapshot {
	case market.SnapshotVerified:
		s.notify(sym, c)
		return
	case market.SnapshotNewEpoch:
		s.log.Info("snapshot of a new publisher epoch; book replaced", "symbol", sym.Name(),
			"epoch", r.Epoch, "seq", r.Seq, "old_epoch", oldEpoch, "old_seq", oldSeq)
	case market.SnapshotCorrected:
		s.log.Warn("snapshot differs from the book at the same sequence; book replaced", "symbol", sym.Name(), "seq", r.Seq)
	}
	if c.Recovered {
		s.log.Info("book recovered from snapshot", "symbol", sym.Name(), "seq", r.Seq)
	}
	s.m.Applied.WithLabelValues("snapshot").Inc()
	if c.Crossed {
		s.m.Crossed.Inc()
		s.log.Warn("snapshot of a crossed book; book stale until a snapshot that is not", "symbol", sym.Name(), "seq", r.Seq)
	}
	s.notify(sym, c)
}

// notify tells the listener of a snapshot or delta that changed the book
// or its serving state.
func (s *Shard) notify(sym *market.Symbol, c market.Change) {
	if c.Book || c.Reset || c.Status {
		s.listener.BookChanged(sym, c)
	}
}

func (s *Shard) applyDelta(sym *market.Symbol, r *schemas.Record) {
	c := sym.ApplyDelta(r)
	switch {
	case c.Reason != "":
		s.reject(c.Reason, c.Err)
		return
	case c.Gap:
		s.m.Gaps.Inc()
		if c.NewEpoch {
			s.m.Skipped.WithLabelValues(sym.SeqState().String()).Inc()
			s.log.Warn("delta of a new publisher epoch; book stale until its snapshot", "symbol", sym.Name(), "have", sym.Epoch(), "got", r.Epoch)
		} else {
			s.log.Warn("sequence gap; book stale until the next snapshot", "symbol", sym.Name(), "have", sym.Seq(), "got", r.Seq)
		}
	case c.Skipped:
		s.m.Skipped.WithLabelValues(sym.SeqState().String()).Inc()
		return
	default:
		s.appliedDelta.Inc()
		if c.Crossed {
			s.m.Crossed.Inc()
		}
		if c.BecameCrossed {
			s.log.Warn("book crossed; stale until a snapshot that is not", "symbol", sym.Name(), "seq", r.Seq)
		}
	}
	s.notify(sym, c)
}

func (s *Shard) applyTrade(sym *market.Symbol, r *schemas.Record) {
	before := sym.TradeBytes()
	t, c := sym.ApplyTradeAt(r, s.offset)
	if c.Reason != "" {
		s.reject(c.Reason, c.Err)
		return
	}
	if d := sym.TradeBytes() - before; d != 0 {
		s.cfg.TradeHistory.Bytes.Add(float64(d))
	}
	if c.CandleLate {
		s.m.CandleLate.Inc()
	}
	s.listener.Traded(sym, t)
	s.appliedTrade.Inc()
}
