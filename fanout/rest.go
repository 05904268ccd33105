package fanout

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// Reads of one symbol's state for request/response clients (the REST
// endpoints). Each is computed on the symbol's owner goroutine, so that it
// is one consistent state of the symbol, and waits for it; every method
// here is safe from any goroutine.

// ErrOwnerStopped reports that the symbol's owner goroutine has stopped
// (the server is shutting down): nothing can be read.
var ErrOwnerStopped = errors.New("fanout: the symbol's owner has stopped")

// BookView is a book as one request reads it.
type BookView struct {
	// State is the served state; Message is empty unless it is Live.
	State market.BookState
	// Reason says why a Stale book is stale (schemas.ReasonGap, ...).
	Reason string
	// Seq and Epoch are the book's sequence and its publisher epoch.
	Seq, Epoch uint64
	// Message is, for a live book, the snapshot message of the view: the
	// bytes a WebSocket book subscriber at that depth receives as its
	// snapshot at Seq (schemas.AppendSnapshot), checksum included.
	Message []byte
}

// Instrument is a symbol's definition as listed to clients: tick and lot
// sizes as exact decimal strings at the instrument's scales.
type Instrument struct {
	Symbol     string `json:"symbol"`
	PriceScale int    `json:"price_scale"`
	SizeScale  int    `json:"size_scale"`
	TickSize   string `json:"tick_size"`
	LotSize    string `json:"lot_size"`
}

// read runs fn on the owner goroutine and waits for it or for ctx.
func (t *Streams) read(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	if !t.post(func() { fn(); close(done) }) {
		return ErrOwnerStopped
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Book returns the book's view at depth (an offered depth, see
// schemas.ValidDepth) with its state.
func (t *Streams) Book(ctx context.Context, depth int) (BookView, error) {
	var v BookView
	err := t.read(ctx, func() { v = t.bookView(depth) })
	return v, err
}

// bookView builds the view on the owner goroutine.
func (t *Streams) bookView(depth int) BookView {
	v := BookView{State: t.sym.State(), Reason: t.sym.Reason(), Seq: t.sym.Seq(), Epoch: t.sym.Epoch()}
	if v.State != market.Live {
		return v
	}
	sc := t.sc()
	bids := t.book.Top(orderbook.Bid, depth, nil)
	asks := t.book.Top(orderbook.Ask, depth, nil)
	var text viewText
	text.rebuild(t.book, depth, sc)
	v.Message = schemas.AppendSnapshot(make([]byte, 0, schemas.BookMessageSize(len(bids)+len(asks))),
		t.chBook, v.Seq, v.Epoch, t.sym.BookTS(), text.checksum(), bids, asks, sc)
	return v
}

// Ticker returns the ticker message as the ticker channel sends it now,
// nil while the ticker reflects no event (the channel sends none either).
func (t *Streams) Ticker(ctx context.Context) ([]byte, error) {
	var msg []byte
	err := t.read(ctx, func() {
		if t.sym.Known() {
			msg = t.appendTicker(make([]byte, 0, schemas.TickerMessageSize))
		}
	})
	return msg, err
}

// Instrument returns the symbol's current definition.
func (t *Streams) Instrument(ctx context.Context) (Instrument, error) {
	var in Instrument
	err := t.read(ctx, func() { in = t.instrument() })
	return in, err
}

// instrument returns the definition on the owner goroutine.
func (t *Streams) instrument() Instrument {
	d := t.sym.Instrument()
	return Instrument{Symbol: d.Symbol, PriceScale: d.PriceScale, SizeScale: d.SizeScale,
		TickSize: string(fixedpoint.Append(nil, d.Tick, d.PriceScale)),
		LotSize:  string(fixedpoint.Append(nil, d.Lot, d.SizeScale))}
}

// Instruments returns the definitions of the symbols that keep accepts,
// sorted by symbol. The reads are posted to every owner at once and then
// awaited, so the answer takes the time of the slowest owner, not the sum;
// a symbol whose owner has stopped is left out.
func (h *Hub) Instruments(ctx context.Context, keep func(symbol string) bool) ([]Instrument, error) {
	h.mu.RLock()
	var streams []*Streams
	for symbol, t := range h.streams {
		if keep(symbol) {
			streams = append(streams, t)
		}
	}
	h.mu.RUnlock()
	results := make(chan Instrument, len(streams)) // posted reads never block
	posted := 0
	for _, t := range streams {
		if t.post(func() { results <- t.instrument() }) {
			posted++
		}
	}
	out := make([]Instrument, 0, posted)
	for range posted {
		select {
		case in := <-results:
			out = append(out, in)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	slices.SortFunc(out, func(a, b Instrument) int { return strings.Compare(a.Symbol, b.Symbol) })
	return out, nil
}
