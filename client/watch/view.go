package watch

import (
	"fmt"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/schemas"
)

// view is the state shown by the live view.
type view struct {
	cfg  Config
	kind string

	book   *client.Book
	ticker *schemas.ServerMessage // of a ticker or the tickers channel
	// bbo is the last bbo message, bboStatus the last status while the
	// book is not served (nil once a bbo follows).
	bbo, bboStatus *schemas.ServerMessage
	tape           []schemas.TradeMessage
	candles        *client.Candles

	conn   string // connection status line
	connOK bool
}

func newView(cfg Config, kind string) *view {
	return &view{cfg: cfg, kind: kind, book: client.NewBook(cfg.Channel)}
}

// apply folds one event of the Stream into the view and reports whether
// the screen needs a redraw. The book is the Stream's verified local book,
// read on the Stream's goroutine only.
func (v *view) apply(ev *client.Event) bool {
	if ev.Channel != v.cfg.Channel {
		return false
	}
	switch ev.Kind {
	case client.EventBook, client.EventStatus, client.EventResync:
		if v.kind == kindBook && ev.Book != nil {
			v.book = ev.Book
			return true
		}
		if v.kind == kindBBO && ev.Kind == client.EventStatus {
			v.bboStatus = ev.Msg
			return true
		}
	case client.EventBBO:
		if v.kind == kindBBO {
			v.bbo, v.bboStatus = ev.Msg, nil
			return true
		}
	case client.EventTicker:
		if v.kind == kindTicker {
			v.ticker = ev.Msg
			return true
		}
	case client.EventTickers:
		if v.kind == kindTickers {
			v.ticker = ev.Msg
			return true
		}
	case client.EventCandles:
		if v.kind == kindCandles {
			return v.candlesOf(ev.Msg)
		}
	case client.EventTrades:
		if v.kind == kindTrades {
			v.tape = appendTape(v.tape, ev.Msg.Trades)
			return true
		}
	}
	return false
}

// lines renders the whole screen.
func (v *view) lines(st style) []string {
	conn := v.conn
	if v.connOK {
		conn = st.green(conn)
	} else {
		conn = st.yellow(conn)
	}
	interval := v.cfg.Interval
	lines := []string{
		st.dim(fmt.Sprintf("marketfeed watch  %s  interval %s", v.cfg.URL, interval)),
		conn,
		"",
	}
	switch v.kind {
	case kindBook:
		lines = append(lines, renderBook(v.book, v.cfg.Depth, st)...)
	case kindBBO:
		lines = append(lines, renderBBO(v.cfg.Channel, v.bbo, v.bboStatus, st)...)
	case kindTicker:
		lines = append(lines, renderTicker(v.cfg.Channel, v.ticker, st)...)
	case kindTrades:
		lines = append(lines, renderTrades(v.cfg.Channel, v.tape, st)...)
	case kindTickers:
		lines = append(lines, renderTickers(v.ticker, st)...)
	case kindCandles:
		lines = append(lines, renderCandles(v.cfg.Channel, v.candles, st)...)
	}
	return lines
}
