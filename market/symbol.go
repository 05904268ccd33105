package market

import (
	"sync/atomic"
	"time"

	"github.com/marketfeed/marketfeed/candle"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// Owner runs functions on the goroutine that owns a set of symbols.
type Owner interface {
	// Exec queues fn to run on the owner goroutine, in order with the
	// owner's other work, and reports false if the owner has stopped.
	Exec(fn func()) bool
}

// Instrument is a symbol's definition.
type Instrument struct {
	Symbol string
	// PriceScale and SizeScale are the number of fractional digits of
	// prices and sizes (see package fixedpoint).
	PriceScale, SizeScale int
	// Tick and Lot are the price and size grids, as mantissas at the
	// scales; 1 when the definition gives none.
	Tick, Lot int64
}

// Scratch holds the parsed levels of the record being applied. The
// symbols of one owner goroutine may share one; a nil Scratch gives a
// symbol its own.
type Scratch struct {
	levels [2][]orderbook.Level
}

// Trade is an applied trade as a listener receives it.
type Trade struct {
	// ID aliases the record being applied: valid only during the call
	// that reports the trade.
	ID          []byte
	TS          int64 // exchange time, µs
	Price, Size int64 // mantissas at the instrument's scales
	Side        schemas.Side
}

// Symbol is the market state of one symbol. See the package comment for
// who may call what.
type Symbol struct {
	owner   Owner
	inst    Instrument
	book    *orderbook.Book
	ticker  *orderbook.Ticker
	scratch *Scratch
	// candles holds the candles of each resolution; candleFrom is the
	// exchange time of the first record they saw (hasCandleFrom).
	candles       [schemas.NumResolutions]*candle.Series
	candleFrom    int64
	hasCandleFrom bool

	// seqState is the book's sequence state; state is what is served
	// (seqState, or Stale for reason).
	seqState BookState
	state    BookState
	reason   string
	seq      uint64 // book sequence of the last applied event
	epoch    uint64 // publisher epoch of seq
	bookTS   int64  // exchange time of the record that brought the book to seq (µs)
	ts       int64  // exchange time of the last applied record of any kind (µs)
	known    bool   // the ticker reflects an event: a snapshot or a trade since the definition

	// crossed: the book became crossed; cleared only by a snapshot that
	// leaves it uncrossed.
	crossed bool
	// feedDown: the symbol's partition cannot be fetched.
	feedDown bool
	// advanced: a snapshot or delta was accepted since the last silence
	// check, which then sets quietSince.
	advanced   bool
	quietSince time.Time
	silent     bool

	logs     [schemas.NumIntervals]orderbook.ChangeLog
	logUsers [schemas.NumIntervals]int

	attached any // the listener's per-symbol value

	hist   history      // recent level changes (history.go)
	trades tradeHistory // recent trades (trades.go)

	// Published for other goroutines.
	pubState  atomic.Uint32
	pubReason atomic.Uint32 // index in staleReasons
	pubSeq    atomic.Uint64
	pubEpoch  atomic.Uint64
}

// NewSymbol returns the state of a newly defined instrument, whose book
// waits for its first snapshot. owner is the goroutine that will call the
// symbol's methods; scratch may be shared with the owner's other symbols
// (nil: the symbol's own).
func NewSymbol(inst Instrument, owner Owner, scratch *Scratch) *Symbol {
	if scratch == nil {
		scratch = new(Scratch)
	}
	s := &Symbol{
		owner:   owner,
		inst:    inst,
		book:    orderbook.New(),
		ticker:  orderbook.NewTicker(inst.PriceScale, inst.SizeScale),
		scratch: scratch,
		// The first silence check starts the quiet time.
		advanced: true,
		trades:   tradeHistory{cfg: TradeHistoryConfig{}.WithDefaults(), floor: -1, partition: -1},
	}
	s.hist.limits = HistoryLimits{}.resolved()
	s.newCandles()
	s.publish()
	return s
}

// Exec runs fn on the symbol's owner goroutine (Owner.Exec). Safe from any
// goroutine.
func (s *Symbol) Exec(fn func()) bool { return s.owner.Exec(fn) }

// Name returns the symbol. Safe from any goroutine.
func (s *Symbol) Name() string { return s.inst.Symbol }

// Instrument returns the current definition.
func (s *Symbol) Instrument() Instrument { return s.inst }

// PriceScale returns the instrument's price scale.
func (s *Symbol) PriceScale() int { return s.inst.PriceScale }

// SizeScale returns the instrument's size scale.
func (s *Symbol) SizeScale() int { return s.inst.SizeScale }

// Book returns the symbol's book. The pointer stays the same for the life
// of the symbol.
func (s *Symbol) Book() *orderbook.Book { return s.book }

// Candles returns the symbol's candles at resolution r; a redefinition
// replaces them.
func (s *Symbol) Candles(r schemas.Resolution) *candle.Series { return s.candles[r] }

// CandlesFrom returns the exchange time (µs) of the first record of the
// symbol its candles saw: they hold every trade from then on. false
// before any record.
func (s *Symbol) CandlesFrom() (int64, bool) { return s.candleFrom, s.hasCandleFrom }

// newCandles starts the candles empty.
func (s *Symbol) newCandles() {
	for r := range schemas.NumResolutions {
		s.candles[r] = candle.NewSeries(r.Micros(), schemas.CandleHistory)
	}
	s.hasCandleFrom = false
}

// advance moves the ticker's window and the candles to exchange time ts,
// the time of a record of the symbol.
func (s *Symbol) advance(ts int64) {
	s.ticker.Advance(ts)
	if !s.hasCandleFrom {
		s.candleFrom, s.hasCandleFrom = ts, true
	}
	for _, c := range s.candles {
		c.Advance(ts)
	}
}

// Ticker returns the symbol's ticker; a redefinition replaces it.
func (s *Symbol) Ticker() *orderbook.Ticker { return s.ticker }

// State returns the served state.
func (s *Symbol) State() BookState { return s.state }

// Reason returns why the book is Stale, "" when it is not.
func (s *Symbol) Reason() string { return s.reason }

// SeqState returns the book's sequence state (Stale only for a broken
// sequence; a crossed, silent or feed-down book is still Live here).
func (s *Symbol) SeqState() BookState { return s.seqState }

// Seq returns the book's sequence.
func (s *Symbol) Seq() uint64 { return s.seq }

// Epoch returns the publisher epoch of Seq.
func (s *Symbol) Epoch() uint64 { return s.epoch }

// BookTS returns the exchange time (µs) of the record that brought the
// book to Seq; book messages carry it.
func (s *Symbol) BookTS() int64 { return s.bookTS }

// TS returns the exchange time (µs) of the last applied record of any
// kind; tickers carry it.
func (s *Symbol) TS() int64 { return s.ts }

// Known reports whether the ticker reflects an event: a snapshot served
// or a trade since the definition.
func (s *Symbol) Known() bool { return s.known }

// Crossed reports whether the book became crossed and no snapshot has
// uncrossed it since.
func (s *Symbol) Crossed() bool { return s.crossed }

// ChangeLog returns the log of the level changes since the last flush of
// interval iv. It records only while in use (UseLog).
func (s *Symbol) ChangeLog(iv schemas.Interval) *orderbook.ChangeLog { return &s.logs[iv] }

// UseLog adds a user of the change log of iv (a book stream of that
// interval); the first user starts it empty.
func (s *Symbol) UseLog(iv schemas.Interval) {
	if s.logUsers[iv] == 0 {
		s.logs[iv].Reset()
	}
	s.logUsers[iv]++
}

// ReleaseLog removes a user of the change log of iv.
func (s *Symbol) ReleaseLog(iv schemas.Interval) { s.logUsers[iv]-- }

// LogInUse reports whether the change log of iv has users.
func (s *Symbol) LogInUse(iv schemas.Interval) bool { return s.logUsers[iv] > 0 }

// Attach keeps v with the symbol for its listener (the listener's own
// per-symbol state, found again without a lookup); market never reads it.
func (s *Symbol) Attach(v any) { s.attached = v }

// Attached returns the value given to Attach, nil before.
func (s *Symbol) Attached() any { return s.attached }

// Published returns the serving state as last published by the owner.
// Safe from any goroutine.
func (s *Symbol) Published() Status {
	return Status{
		State:  BookState(s.pubState.Load()),
		Reason: staleReasons[s.pubReason.Load()],
		Seq:    s.pubSeq.Load(),
		Epoch:  s.pubEpoch.Load(),
	}
}

func (s *Symbol) publish() {
	s.pubState.Store(uint32(s.state))
	s.pubSeq.Store(s.seq)
	s.pubEpoch.Store(s.epoch)
	if s.state == Stale {
		s.pubReason.Store(reasonCode(s.reason))
	} else {
		s.pubReason.Store(0)
	}
}

// setLevel changes one level and records the change in the history and
// in the logs in use.
func (s *Symbol) setLevel(side orderbook.Side, price, size int64) {
	prev := s.book.Set(side, price, size)
	s.hist.record(side, price, prev)
	for iv := range schemas.NumIntervals {
		if s.logUsers[iv] > 0 {
			s.logs[iv].Record(side, price, prev)
		}
	}
}

// staleReason returns why a book whose sequence state is Live or Stale is
// not served, "" when it is served.
func (s *Symbol) staleReason() string {
	switch {
	case s.seqState == Stale:
		return schemas.ReasonGap
	case s.crossed:
		return schemas.ReasonCrossed
	case s.feedDown:
		return schemas.ReasonFeedDown
	case s.silent:
		return schemas.ReasonSilent
	}
	return ""
}

// serve brings the served state in line with the sequence state and the
// freshness after a change: stale with the current reason, or served
// again from the current book.
func (s *Symbol) serve(c *Change) {
	if s.seqState == Waiting {
		return
	}
	if reason := s.staleReason(); reason != "" {
		s.setStale(reason, c)
		return
	}
	if s.state != Live {
		s.reset(c)
	}
}

func (s *Symbol) setStale(reason string, c *Change) {
	if s.state == Stale && s.reason == reason {
		return
	}
	s.state, s.reason = Stale, reason
	c.Status = true
}

// reset serves the book as it is now: listeners send it whole.
func (s *Symbol) reset(c *Change) {
	if s.state != Live {
		c.Status = true
	}
	s.state, s.reason = Live, ""
	s.ts, s.known = max(s.ts, s.bookTS), true
	for iv := range s.logs {
		s.logs[iv].Reset()
	}
	c.Reset = true
}
