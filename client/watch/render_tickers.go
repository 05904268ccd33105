package watch

import (
	"fmt"
	"strings"

	"github.com/marketfeed/marketfeed/schemas"
)

// renderTickers draws the tickers message m (nil: nothing received yet):
// one row per symbol with its last price (the bid before any trade), 24 h
// change and volume; the change is green when positive and red when
// negative.
func renderTickers(m *schemas.ServerMessage, st style) []string {
	lines := []string{st.bold(schemas.TickersChannel)}
	if m == nil {
		return append(lines, "  waiting for data")
	}
	lines = append(lines, st.dim(fmt.Sprintf("  %-14s %16s %9s %20s", "symbol", "last", "change", "volume")))
	for _, t := range m.Tickers {
		last := t.Last
		if last == "" {
			last = t.Bid
		}
		pct := dash
		if t.ChangePct != "" {
			pct = t.ChangePct + "%"
			if sign(t.ChangePct) > 0 {
				pct = "+" + pct
			}
		}
		cell := fmt.Sprintf("%9s", pct)
		switch sign(t.ChangePct) {
		case 1:
			cell = st.green(cell)
		case -1:
			cell = st.red(cell)
		}
		sym := strings.TrimPrefix(t.Channel, "ticker.")
		lines = append(lines, fmt.Sprintf("  %-14s %16s %s %20s", sym, orDash(last), cell, orDash(t.Volume)))
	}
	return lines
}
