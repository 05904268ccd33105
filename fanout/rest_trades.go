package fanout

import (
	"context"

	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
)

// REST limits of a trades read (GET /v1/trades).
const (
	// DefaultTradesLimit is the number of trades a read returns when it
	// names no limit.
	DefaultTradesLimit = 100
	// MaxTradesLimit is the largest limit of a read.
	MaxTradesLimit = 1000
)

// TradesQuery selects recent trades of a symbol's history.
type TradesQuery struct {
	// SinceID, when set, asks for the trades after the trade with that id
	// (and exchange time SinceTS when HasTS): the position a trades
	// subscription resumes from.
	SinceID string
	// SinceTS, when HasTS, is an exchange time (µs): the trades after it
	// (after the trade SinceID at that time, when SinceID is set).
	SinceTS int64
	HasTS   bool
	// Limit is the number of trades at most: with a position, the first
	// ones after it; without, the newest. Zero means DefaultTradesLimit.
	Limit int
}

// TradesView is the answer of a trades read.
type TradesView struct {
	// Found is false when SinceID named a trade the history does not
	// hold; Message and Trades are empty then.
	Found bool
	// Trades are the trades, oldest first.
	Trades []schemas.Trade
	// Message is the trades message of Trades, as the trades channel
	// sends it (schemas.AppendTrades).
	Message []byte
}

// Trades reads the symbol's held trades that q selects, on its owner.
func (t *Streams) Trades(ctx context.Context, q TradesQuery) (TradesView, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultTradesLimit
	}
	var v TradesView
	err := t.read(ctx, func() { v = t.tradesView(q) })
	return v, err
}

func (t *Streams) tradesView(q TradesQuery) TradesView {
	var held []market.HeldTrade
	v := TradesView{Found: true}
	switch {
	case q.SinceID != "":
		ts := int64(-1)
		if q.HasTS {
			ts = q.SinceTS
		}
		if held, v.Found = t.sym.TradesAfter(nil, q.SinceID, ts); !v.Found {
			return v
		}
		held = held[:min(len(held), q.Limit)]
	case q.HasTS:
		held = t.sym.TradesSince(nil, q.SinceTS)
		held = held[:min(len(held), q.Limit)]
	default:
		held = t.sym.RecentTrades(nil)
		held = held[max(len(held)-q.Limit, 0):]
	}
	v.Trades = make([]schemas.Trade, len(held))
	for i := range held {
		v.Trades[i] = held[i].Trade
	}
	v.Message = schemas.AppendTrades(make([]byte, 0, schemas.TradesMessageSize(len(v.Trades))), t.chTrades, v.Trades, t.sc())
	return v
}
