package fanout

import (
	"sync/atomic"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/candle"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// Streams is the output side of one symbol: its book, bbo, ticker, trades
// and candles streams and their subscribers, served from the symbol's
// market state.
// Every method whose comment does not say otherwise must be called on the
// symbol's owner goroutine, the goroutine that changes the market state.
type Streams struct {
	symbol string
	hub    *Hub
	sym    *market.Symbol
	// book is sym's book, the same for the life of the symbol.
	book *orderbook.Book

	// Owner goroutine only.
	chBook   string
	chBBO    string
	chTicker string
	chTrades string
	// chCandles is the candles channel; candleBuf scratch for its
	// messages' closed candles.
	chCandles   string
	candleBuf   []candle.Candle
	candleSnaps [schemas.NumResolutions]candlesSnap

	books   []*bookStream
	bbo     [schemas.NumIntervals]*bboStream
	tickers [schemas.NumIntervals]*tickerStream
	trades  [schemas.NumIntervals]*tradesStream
	candles [schemas.NumResolutions][schemas.NumIntervals]*candleStream
	// best is the top of the book the tickers last reported.
	best    [2]orderbook.Level
	bestOK  [2]bool
	scratch [2][]orderbook.Level
	ckbuf   []byte // scratch for formatting checksum levels
	// rlog and rscratch rebuild a resumer's view (resume.go).
	rlog     orderbook.ChangeLog
	rscratch []orderbook.Level
	rlast    resumeFrame
	// boardDirty: the ticker changed since it was last published.
	boardDirty bool

	// published is the ticker message last published for the tickers
	// channel (tickers.go); the owner stores it, the board reads it.
	published atomic.Pointer[[]byte]
	// publishedBin is published with it in the binary encoding while the
	// channel has binary subscribers, nil otherwise.
	publishedBin atomic.Pointer[[]byte]
}

// Symbol returns the streams' symbol. Safe from any goroutine.
func (t *Streams) Symbol() string { return t.symbol }

// State returns the book's state and sequence as last published by the
// owner. Safe from any goroutine.
func (t *Streams) State() (market.BookState, uint64) {
	st := t.sym.Published()
	return st.State, st.Seq
}

// Reason returns why the book is Stale as last published by the owner
// (schemas.ReasonGap, ...), "" when it is not. Safe from any goroutine.
func (t *Streams) Reason() string { return t.sym.Published().Reason }

// Epoch returns the publisher epoch of the book's sequence as last
// published by the owner. Safe from any goroutine.
func (t *Streams) Epoch() uint64 { return t.sym.Published().Epoch }

// post runs fn on the owner goroutine. Safe from any goroutine.
func (t *Streams) post(fn func()) bool { return t.sym.Exec(fn) }

func (t *Streams) sc() schemas.Scales {
	return schemas.Scales{Price: t.sym.PriceScale(), Size: t.sym.SizeScale()}
}

// changed delivers a change of the book or of its serving state: a book
// served anew (snapshots for everybody), a change of state (status
// messages), or the levels of a delta of a served book (raw streams send
// what changed in their views, throttled streams keep it in the change
// logs for their next flush).
func (t *Streams) changed(c market.Change) {
	switch {
	case c.Reset:
		t.reset(c.Status)
		return
	case c.Status:
		t.notServing()
	}
	if c.Book && t.sym.State() == market.Live {
		t.applied()
	}
}

// applied sends the raw book streams the views' changes of one delta.
func (t *Streams) applied() {
	if t.sym.LogInUse(schemas.Raw) {
		log := t.sym.ChangeLog(schemas.Raw)
		for _, bs := range t.books {
			if bs.iv == schemas.Raw {
				t.emitDelta(bs, log)
				if len(bs.resuming) > 0 {
					t.resumePending(bs)
				}
			}
		}
		log.Reset()
	}
	t.bboApplied()
	t.checkBest(false)
}

// reset sends every book subscriber a fresh snapshot of its view: the
// book was replaced by a snapshot, or is served again (resumed: it was
// not served before, and the tickers say so).
func (t *Streams) reset(resumed bool) {
	t.rlast = resumeFrame{}
	for _, bs := range t.books {
		bs.edge = [2]orderbook.Edge{t.book.Edge(orderbook.Bid, bs.depth), t.book.Edge(orderbook.Ask, bs.depth)}
		bs.emitted = t.sym.Seq()
		bs.text.valid = false
		if bs.subs.len()+bs.joining.len()+len(bs.resuming) == 0 {
			continue
		}
		f := t.snapshotFrames(bs, bs.subs.encodings()|bs.joining.encodings()|bs.resuming.encodings())
		bs.subs.sendFrames(&f, -1)
		bs.joining.sendFrames(&f, -1)
		bs.joining.moveTo(&bs.subs)
		bs.resuming.sendJoin(f.of, &bs.subs)
	}
	t.bboReset()
	t.checkBest(resumed) // a ticker that said the book is not served says it is
}

// notServing tells the book subscribers that the book is not served (its
// state and the reason); their views freeze. Tickers carry the status and
// drop the book's top.
func (t *Streams) notServing() {
	t.rlast = resumeFrame{}
	var set encSet
	for _, bs := range t.books {
		set |= bs.subs.encodings() | bs.joining.encodings() | bs.resuming.encodings()
	}
	f := t.statusFrames(t.chBook, set)
	for _, bs := range t.books {
		bs.text.valid = false
		bs.subs.sendFrames(&f, -1)
		bs.joining.sendFrames(&f, -1)
		bs.joining.moveTo(&bs.subs)
		bs.resuming.sendJoin(f.of, &bs.subs)
	}
	t.bboNotServing()
	t.tickerChanged()
}

// trade delivers a trade that the market state has added to the ticker.
func (t *Streams) trade(tr market.Trade) {
	if t.tradesSubscribed() {
		e := tradeEntry{ID: string(tr.ID), TS: tr.TS, Price: tr.Price, Size: tr.Size, Side: tr.Side}
		if s := t.trades[schemas.Raw]; s != nil && s.subs.len() > 0 {
			f := t.tradesFrames([]tradeEntry{e}, s.subs.encodings())
			s.subs.sendFrames(&f, e.TS)
		}
		for iv := schemas.Every100ms; iv < schemas.NumIntervals; iv++ {
			if s := t.trades[iv]; s != nil && s.active() {
				s.pending = append(s.pending, e)
			}
		}
	}
	t.candlesTraded(tr.TS)
	t.tickerChanged()
}

// tradesSubscribed reports whether a trades stream has subscribers.
func (t *Streams) tradesSubscribed() bool {
	for _, s := range t.trades {
		if s != nil && s.active() {
			return true
		}
	}
	return false
}

// Flush sends the throttled streams of interval iv their net changes since
// the previous flush. Its Group calls it every iv.Period().
func (t *Streams) Flush(iv schemas.Interval) {
	if t.sym.LogInUse(iv) && t.sym.State() == market.Live {
		log := t.sym.ChangeLog(iv)
		for _, bs := range t.books {
			if bs.iv != iv {
				continue
			}
			if bs.subs.len() > 0 {
				t.emitDelta(bs, log)
			} else {
				// Nobody holds a view yet (a stream created since the last
				// flush, whose log predates it): start from the current book.
				bs.edge = [2]orderbook.Edge{t.book.Edge(orderbook.Bid, bs.depth), t.book.Edge(orderbook.Ask, bs.depth)}
				bs.emitted = t.sym.Seq()
				bs.text.valid = false
			}
			if bs.joining.len() > 0 {
				f := t.snapshotFrames(bs, bs.joining.encodings())
				bs.joining.sendFrames(&f, -1)
				bs.joining.moveTo(&bs.subs)
			}
			if len(bs.resuming) > 0 {
				t.resumePending(bs)
			}
		}
		log.Reset()
	}
	t.bboFlush(iv)
	t.candlesFlush(iv)
	if s := t.tickers[iv]; s != nil && s.dirty {
		s.dirty = false
		if f, ok := t.tickerFrames(s.subs.encodings()); ok {
			s.subs.sendFrames(&f, -1)
		}
	}
	if s := t.trades[iv]; s != nil {
		t.flushTrades(s) // trades_resume.go
	}
}

// emitDelta sends bs the entries that bring its subscribers' views from the
// last emission to the current book.
func (t *Streams) emitDelta(bs *bookStream, log *orderbook.ChangeLog) {
	bids := t.book.ViewDelta(orderbook.Bid, bs.depth, bs.edge[orderbook.Bid], log, t.scratch[0][:0])
	asks := t.book.ViewDelta(orderbook.Ask, bs.depth, bs.edge[orderbook.Ask], log, t.scratch[1][:0])
	t.scratch[0], t.scratch[1] = bids[:0], asks[:0]
	bs.edge = [2]orderbook.Edge{t.book.Edge(orderbook.Bid, bs.depth), t.book.Edge(orderbook.Ask, bs.depth)}
	if len(bids)+len(asks) == 0 {
		return
	}
	seq := t.sym.Seq()
	if bs.subs.len() > 0 {
		var ck uint32
		sc := t.sc()
		ck, t.ckbuf = bs.text.update(t.book, bs.depth, bids, asks, sc, t.ckbuf)
		f := t.updateFrames(bs.subs.encodings(), bs.emitted+1, seq, ck, bids, asks)
		bs.subs.sendFrames(&f, t.sym.BookTS())
	} else {
		bs.text.valid = false
	}
	bs.emitted = seq
}

// checkBest notices a change of best bid or ask, which the ticker carries;
// force reports a change of the ticker anyway.
func (t *Streams) checkBest(force bool) {
	changed := false
	for side := orderbook.Bid; side <= orderbook.Ask; side++ {
		l, ok := t.book.Best(side)
		if ok != t.bestOK[side] || l != t.best[side] {
			t.best[side], t.bestOK[side] = l, ok
			changed = true
		}
	}
	if changed || force {
		t.tickerChanged()
	}
}

func (t *Streams) tickerChanged() {
	t.boardDirty = true
	if s := t.tickers[schemas.Raw]; s != nil && s.subs.len() > 0 {
		if f, ok := t.tickerFrames(s.subs.encodings()); ok {
			s.subs.sendFrames(&f, -1)
		}
	}
	for iv := schemas.Every100ms; iv < schemas.NumIntervals; iv++ {
		if s := t.tickers[iv]; s != nil {
			s.dirty = true
		}
	}
}

// statusFrameOf returns the status message of the book's serving state
// on channel (the book's or the bbo's).
func (t *Streams) statusFrameOf(channel string) []byte {
	state := t.sym.State()
	m := schemas.ServerMessage{Type: schemas.TypeStatus, Channel: channel, Status: state.String()}
	if state == market.Stale {
		m.Reason = t.sym.Reason()
	}
	return messageFrame(&m)
}

// tickerFrame returns the ticker message, or nil while the ticker reflects
// no event (it would carry no value and no meaningful ts).
func (t *Streams) tickerFrame() []byte {
	if !t.sym.Known() {
		return nil
	}
	var f frameBuilder
	f.begin(schemas.TickerMessageSize)
	f.b = t.appendTicker(f.b)
	return f.finish(ws.OpText)
}

// appendTicker appends the ticker message of the symbol's current state
// (the caller checks that the ticker reflects an event): the book's top
// while it is served, else its status and reason.
func (t *Streams) appendTicker(dst []byte) []byte {
	st := t.sym.Ticker().Stats()
	if state := t.sym.State(); state != market.Live {
		return schemas.AppendTicker(dst, t.chTicker, t.sym.TS(), nil, &st, t.sc(), state.String(), t.sym.Reason())
	}
	return schemas.AppendTicker(dst, t.chTicker, t.sym.TS(), t.book, &st, t.sc(), "", "")
}
