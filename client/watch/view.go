package watch

import (
	"errors"
	"fmt"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/schemas"
)

// view is the state shown by the live view.
type view struct {
	cfg  Config
	kind string

	book   *client.Book
	ticker *schemas.ServerMessage
	tape   []schemas.TradeMessage

	conn   string // connection status line
	connOK bool
}

func newView(cfg Config, kind string) *view {
	return &view{cfg: cfg, kind: kind, book: client.NewBook(cfg.Channel)}
}

// apply folds one message into the view. changed reports whether the
// screen needs a redraw; resync whether the book lost continuity and needs
// a fresh snapshot.
func (v *view) apply(m *schemas.ServerMessage) (changed, resync bool) {
	if m.Channel != v.cfg.Channel {
		return false, false
	}
	switch v.kind {
	case kindBook:
		switch m.Type {
		case schemas.TypeSnapshot, schemas.TypeUpdate, schemas.TypeStatus:
		default:
			return false, false
		}
		err := v.book.Apply(m)
		return true, errors.Is(err, client.ErrGap) || errors.Is(err, client.ErrInvalidLevel)
	case kindTicker:
		if m.Type == schemas.TypeTicker {
			v.ticker = m
			return true, false
		}
	case kindTrades:
		if m.Type == schemas.TypeTrades {
			v.tape = appendTape(v.tape, m.Trades)
			return true, false
		}
	}
	return false, false
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
	case kindTicker:
		lines = append(lines, renderTicker(v.cfg.Channel, v.ticker, st)...)
	case kindTrades:
		lines = append(lines, renderTrades(v.cfg.Channel, v.tape, st)...)
	}
	return lines
}
