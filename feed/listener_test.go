package feed

import (
	"sync"

	"github.com/marketfeed/marketfeed/market"
)

// symbolIndex is a Listener that remembers the symbols a shard defines,
// so that a test on another goroutine can read their published state.
type symbolIndex struct {
	nopListener
	mu   sync.Mutex
	syms map[string]*market.Symbol
}

func (x *symbolIndex) Defined(sym *market.Symbol) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.syms == nil {
		x.syms = map[string]*market.Symbol{}
	}
	x.syms[sym.Name()] = sym
}

// status returns the published state of symbol, false if it is not
// defined. Safe from any goroutine.
func (x *symbolIndex) status(symbol string) (market.Status, bool) {
	x.mu.Lock()
	sym := x.syms[symbol]
	x.mu.Unlock()
	if sym == nil {
		return market.Status{}, false
	}
	return sym.Published(), true
}
