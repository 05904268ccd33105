package feed

import "github.com/marketfeed/marketfeed/market"

// Listener is told of the changes of one shard's symbols, so that it can
// deliver them (package fanout implements it). Every method is called on
// the shard's goroutine, the owner of the symbols, in the order of the
// records; a Listener serves one shard. A method must not block: the
// shard applies nothing while it runs.
type Listener interface {
	// Defined reports a new symbol, at its first instrument definition;
	// its book waits for a snapshot.
	Defined(sym *market.Symbol)
	// Redefined reports a definition that changed sym's scales: its book
	// is empty and waiting, its ticker new.
	Redefined(sym *market.Symbol)
	// BookChanged reports a snapshot or delta that changed sym's book
	// (c.Book, c.Reset) or its serving state (c.Status).
	BookChanged(sym *market.Symbol, c market.Change)
	// StateChanged reports a change of sym's serving state by a freshness
	// check (partition down or up again, book silent).
	StateChanged(sym *market.Symbol, c market.Change)
	// Traded reports a trade added to sym's ticker; t.ID is valid only
	// during the call.
	Traded(sym *market.Symbol, t market.Trade)
	// Tick is called every ShardConfig.FlushEvery (the period of the
	// finest throttled interval, schemas.Every100ms), after the freshness
	// checks.
	Tick()
}

// nopListener is the listener of a shard configured without one.
type nopListener struct{}

func (nopListener) Defined(*market.Symbol)                     {}
func (nopListener) Redefined(*market.Symbol)                   {}
func (nopListener) BookChanged(*market.Symbol, market.Change)  {}
func (nopListener) StateChanged(*market.Symbol, market.Change) {}
func (nopListener) Traded(*market.Symbol, market.Trade)        {}
func (nopListener) Tick()                                      {}
