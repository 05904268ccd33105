package fanout

import (
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
)

// Group delivers the market changes of one owner goroutine (a feed
// shard: it implements feed.Listener) to the streams of its symbols, and
// owns their flush schedule. Every method runs on that owner goroutine;
// a Group serves one owner.
type Group struct {
	hub     *Hub
	streams []*Streams // in the order of definition
	ticks   int        // Ticks so far
}

// NewGroup returns a group whose symbols' streams the hub serves. Safe
// from any goroutine.
func (h *Hub) NewGroup() *Group {
	return &Group{hub: h}
}

// Defined creates and registers the streams of a new symbol, and
// attaches them to it.
func (g *Group) Defined(sym *market.Symbol) {
	t := g.hub.NewStreams(sym)
	g.streams = append(g.streams, t)
	sym.Attach(t)
}

// streamsOf returns the streams attached to sym, nil for a symbol the
// group did not define.
func streamsOf(sym *market.Symbol) *Streams {
	t, _ := sym.Attached().(*Streams)
	return t
}

// Redefined tells the symbol's book subscribers that the book waits for
// a snapshot at the new scales.
func (g *Group) Redefined(sym *market.Symbol) {
	if t := streamsOf(sym); t != nil {
		t.notServing()
		t.candlesReset()
	}
}

// BookChanged delivers a snapshot or delta that changed the symbol's book
// or its serving state.
func (g *Group) BookChanged(sym *market.Symbol, c market.Change) {
	if t := streamsOf(sym); t != nil {
		t.changed(c)
	}
}

// StateChanged delivers a change of the symbol's serving state.
func (g *Group) StateChanged(sym *market.Symbol, c market.Change) {
	if t := streamsOf(sym); t != nil {
		t.changed(c)
	}
}

// Traded delivers a trade added to the symbol's ticker.
func (g *Group) Traded(sym *market.Symbol, tr market.Trade) {
	if t := streamsOf(sym); t != nil {
		t.trade(tr)
	}
}

// Tick flushes the throttled streams whose interval is due. The owner
// calls it every period of the finest throttled interval
// (schemas.Every100ms; tests shorten it): an interval is due every
// iv.Ticks() ticks.
func (g *Group) Tick() {
	g.ticks++
	for _, t := range g.streams {
		t.publishTicker()
		for iv := schemas.Every100ms; iv < schemas.NumIntervals; iv++ {
			if g.ticks%iv.Ticks() == 0 {
				t.Flush(iv)
			}
		}
	}
}
