package fanout

import (
	"sync/atomic"

	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// Owner runs functions on the goroutine that owns a topic's book.
type Owner interface {
	// Exec queues fn to run on the owner goroutine, in order with the
	// owner's other work, and reports false if the owner has stopped.
	Exec(fn func()) bool
}

// BookState is the serving state of a symbol's book.
type BookState uint32

// Book states.
const (
	// Waiting: no snapshot seen yet; nothing is served.
	Waiting BookState = iota
	// Live: the book is known and served.
	Live
	// Stale: the book must not be trusted (its Reason says why); nothing
	// is served until the owner resets it.
	Stale
)

// staleReasons are the reasons of the Stale state, indexed by their code in
// Topic.pubReason; 0 is none.
var staleReasons = [...]string{"", schemas.ReasonGap, schemas.ReasonFeedDown, schemas.ReasonSilent, schemas.ReasonCrossed}

func reasonCode(reason string) uint32 {
	for i, r := range staleReasons {
		if r == reason {
			return uint32(i)
		}
	}
	return 0
}

// String returns the state's name as used in status messages and listings.
func (s BookState) String() string {
	switch s {
	case Live:
		return "live"
	case Stale:
		return schemas.StatusStale
	}
	return schemas.StatusWaiting
}

// Streams is the output side of one symbol: its book, ticker and trades
// streams and their subscribers. Every method whose comment does not say
// otherwise must be called on the owner goroutine, the same goroutine that
// changes the book and ticker the topic was created with.
type Streams struct {
	symbol string
	hub    *Hub
	owner  Owner

	// Published for readers on other goroutines (listings, readiness).
	pubState  atomic.Uint32
	pubSeq    atomic.Uint64
	pubReason atomic.Uint32 // index in staleReasons
	pubEpoch  atomic.Uint64

	// Owner goroutine only.
	book     *orderbook.Book
	ticker   *orderbook.Ticker
	sc       scales
	state    BookState
	reason   string // why the book is Stale
	seq      uint64 // book sequence of the last applied event
	epoch    uint64 // publisher epoch of seq
	bookTS   int64  // exchange time of event seq (µs): book messages carry it
	ts       int64  // exchange time of the last event of any kind (µs): tickers carry it
	known    bool   // the ticker reflects an event: a snapshot or a trade since the definition
	chBook   string
	chTicker string
	chTrades string

	books   []*bookStream
	logs    [numIntervals]orderbook.ChangeLog
	logUse  [numIntervals]int // book streams using each log
	tickers [numIntervals]*tickerStream
	trades  [numIntervals]*tradesStream
	best    [2]orderbook.Level
	bestOK  [2]bool
	scratch [2][]orderbook.Level
	ckbuf   []byte // scratch for formatting checksum levels
}

// Symbol returns the topic's symbol. Safe from any goroutine.
func (t *Streams) Symbol() string { return t.symbol }

// State returns the book's state and sequence as last published by the
// owner. Safe from any goroutine.
func (t *Streams) State() (BookState, uint64) {
	return BookState(t.pubState.Load()), t.pubSeq.Load()
}

// Reason returns why the book is Stale as last published by the owner
// (schemas.ReasonGap, ...), "" when it is not. Safe from any goroutine.
func (t *Streams) Reason() string { return staleReasons[t.pubReason.Load()] }

// Epoch returns the publisher epoch of the book's sequence as last
// published by the owner. Safe from any goroutine.
func (t *Streams) Epoch() uint64 { return t.pubEpoch.Load() }

// post runs fn on the owner goroutine. Safe from any goroutine.
func (t *Streams) post(fn func()) bool { return t.owner.Exec(fn) }

func (t *Streams) publish() {
	t.pubState.Store(uint32(t.state))
	t.pubSeq.Store(t.seq)
	t.pubEpoch.Store(t.epoch)
	if t.state == Stale {
		t.pubReason.Store(reasonCode(t.reason))
	} else {
		t.pubReason.Store(0)
	}
}

// Redefine changes the instrument's scales. The caller has reset the book
// and replaced the ticker (mantissas at the old scales mean nothing at the
// new ones); the topic waits for the next snapshot.
func (t *Streams) Redefine(priceScale, sizeScale int, ticker *orderbook.Ticker) {
	t.sc = scales{price: priceScale, size: sizeScale}
	t.ticker = ticker
	t.known = false
	t.setNotServing(Waiting, "")
}

// SetLevel changes one level of the book and records the change for the
// streams that will report it.
func (t *Streams) SetLevel(side orderbook.Side, price, size int64) {
	prev := t.book.Set(side, price, size)
	for iv := range numIntervals {
		if t.logUse[iv] > 0 {
			t.logs[iv].Record(side, price, prev)
		}
	}
}

// Applied ends one delta event: raw book streams send what changed in
// their views, throttled streams remember it for their next flush.
func (t *Streams) Applied(seq uint64, ts int64) {
	t.seq, t.bookTS = seq, ts
	t.ts = max(t.ts, ts)
	t.publish()
	if t.state != Live {
		return
	}
	if t.logUse[Raw] > 0 {
		for _, bs := range t.books {
			if bs.iv == Raw {
				t.emitDelta(bs, &t.logs[Raw])
			}
		}
		t.logs[Raw].Reset()
	}
	t.checkBest(false)
}

// Track records the book's epoch, sequence and its exchange time while the
// book is not served, for listings and for the snapshot that will follow.
func (t *Streams) Track(epoch, seq uint64, ts int64) {
	t.epoch, t.seq, t.bookTS = epoch, seq, ts
	t.ts = max(t.ts, ts)
	t.publish()
}

// Reset announces that the book was replaced by a snapshot at seq, whose
// exchange time is ts, or that a book that was not served is served again:
// every book subscriber receives a fresh snapshot of its view.
func (t *Streams) Reset(seq uint64, ts int64) { t.ResetEpoch(t.epoch, seq, ts) }

// ResetEpoch is Reset for a book whose sequence now belongs to publisher
// epoch epoch.
func (t *Streams) ResetEpoch(epoch, seq uint64, ts int64) {
	served := t.state == Live
	t.state, t.reason, t.epoch, t.seq, t.bookTS = Live, "", epoch, seq, ts
	t.ts, t.known = max(t.ts, ts), true
	t.publish()
	for iv := range numIntervals {
		t.logs[iv].Reset()
	}
	for _, bs := range t.books {
		bs.edge = [2]orderbook.Edge{t.book.Edge(orderbook.Bid, bs.depth), t.book.Edge(orderbook.Ask, bs.depth)}
		bs.emitted = seq
		bs.text.valid = false
		if bs.subs.len()+bs.joining.len() == 0 {
			continue
		}
		frame := t.snapshotFrame(bs)
		bs.subs.send(frame)
		bs.joining.send(frame)
		bs.joining.moveTo(&bs.subs)
	}
	t.checkBest(!served) // a ticker that said the book is not served says it is
}

// Stale marks the book as not servable until the next Reset, for reason
// (schemas.ReasonGap, ReasonFeedDown, ReasonSilent or ReasonCrossed): book
// subscribers are told, and their views freeze. A stale book whose reason
// changes announces the new reason.
func (t *Streams) Stale(reason string) {
	if t.state == Stale && t.reason == reason {
		return
	}
	t.setNotServing(Stale, reason)
}

func (t *Streams) setNotServing(s BookState, reason string) {
	t.state, t.reason = s, reason
	t.publish()
	frame := t.statusFrame()
	for _, bs := range t.books {
		bs.text.valid = false
		bs.subs.send(frame)
		bs.joining.send(frame)
		bs.joining.moveTo(&bs.subs)
	}
	t.tickerChanged() // tickers carry the status and drop the book's top
}

// Trade reports a trade that the caller has already added to the ticker.
func (t *Streams) Trade(id string, ts, price, size int64, side schemas.Side) {
	t.ts, t.known = max(t.ts, ts), true
	e := tradeEntry{ID: id, TS: ts, Price: price, Size: size, Side: side}
	if s := t.trades[Raw]; s != nil && s.subs.len() > 0 {
		s.subs.sendAt(encodeTrades(t.chTrades, []tradeEntry{e}, t.sc), e.TS)
	}
	for iv := Every100ms; iv < numIntervals; iv++ {
		if s := t.trades[iv]; s != nil && s.subs.len() > 0 {
			s.pending = append(s.pending, e)
		}
	}
	t.tickerChanged()
}

// Flush sends the throttled streams of interval iv their net changes since
// the previous flush. The owner calls it every iv.Period().
func (t *Streams) Flush(iv Interval) {
	if t.logUse[iv] > 0 && t.state == Live {
		for _, bs := range t.books {
			if bs.iv != iv {
				continue
			}
			if bs.subs.len() > 0 {
				t.emitDelta(bs, &t.logs[iv])
			} else {
				// Nobody holds a view yet (a stream created since the last
				// flush, whose log predates it): start from the current book.
				bs.edge = [2]orderbook.Edge{t.book.Edge(orderbook.Bid, bs.depth), t.book.Edge(orderbook.Ask, bs.depth)}
				bs.emitted = t.seq
				bs.text.valid = false
			}
			if bs.joining.len() > 0 {
				bs.joining.send(t.snapshotFrame(bs))
				bs.joining.moveTo(&bs.subs)
			}
		}
		t.logs[iv].Reset()
	}
	if s := t.tickers[iv]; s != nil && s.dirty {
		s.dirty = false
		if f := t.tickerFrame(); f != nil {
			s.subs.send(f)
		}
	}
	if s := t.trades[iv]; s != nil && len(s.pending) > 0 {
		s.subs.sendAt(encodeTrades(t.chTrades, s.pending, t.sc), s.pending[0].TS)
		clear(s.pending)
		s.pending = s.pending[:0]
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
	if bs.subs.len() > 0 {
		var ck uint32
		ck, t.ckbuf = bs.text.update(t.book, bs.depth, bids, asks, t.sc, t.ckbuf)
		bs.subs.sendAt(encodeUpdate(t.chBook, bs.emitted+1, t.seq, t.epoch, t.bookTS, ck, bids, asks, t.sc), t.bookTS)
	} else {
		bs.text.valid = false
	}
	bs.emitted = t.seq
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
	if s := t.tickers[Raw]; s != nil && s.subs.len() > 0 {
		if f := t.tickerFrame(); f != nil {
			s.subs.send(f)
		}
	}
	for iv := Every100ms; iv < numIntervals; iv++ {
		if s := t.tickers[iv]; s != nil {
			s.dirty = true
		}
	}
}

func (t *Streams) snapshotFrame(bs *bookStream) []byte {
	bids := t.book.Top(orderbook.Bid, bs.depth, t.scratch[0][:0])
	asks := t.book.Top(orderbook.Ask, bs.depth, t.scratch[1][:0])
	t.scratch[0], t.scratch[1] = bids[:0], asks[:0]
	bs.text.rebuild(t.book, bs.depth, t.sc)
	return encodeSnapshot(t.chBook, bs.emitted, t.epoch, t.bookTS, bs.text.checksum(), bids, asks, t.sc)
}

func (t *Streams) statusFrame() []byte {
	m := schemas.ServerMessage{Type: schemas.TypeStatus, Channel: t.chBook, Status: t.state.String()}
	if t.state == Stale {
		m.Reason = t.reason
	}
	return messageFrame(&m)
}

// tickerFrame returns the ticker message, or nil while the ticker reflects
// no event (it would carry no value and no meaningful ts).
func (t *Streams) tickerFrame() []byte {
	if !t.known {
		return nil
	}
	st := t.ticker.Stats()
	if t.state != Live {
		return encodeTicker(t.chTicker, t.ts, nil, &st, t.sc, t.state.String(), t.reason)
	}
	return encodeTicker(t.chTicker, t.ts, t.book, &st, t.sc, "", "")
}
