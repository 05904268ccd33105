package watch

import (
	"fmt"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/shopspring/decimal"
)

// candleRows is how many candles the candles view shows, newest last.
const candleRows = 20

// renderCandles draws the newest candles held (nil: none received yet):
// one row per candle with its UTC start, open, high, low, close, volume
// and trade count; the close is green above the open and red below, and
// the candle in progress is marked.
func renderCandles(channel string, cs *client.Candles, st style) []string {
	lines := []string{st.bold(channel)}
	if cs == nil || !cs.Synced() {
		return append(lines, "  waiting for data")
	}
	lines[0] += st.dim("  resolution " + cs.Resolution())
	list := cs.List()
	if len(list) == 0 {
		return append(lines, "  no trade yet")
	}
	lines = append(lines, st.dim(fmt.Sprintf("  %-16s %12s %12s %12s %12s %18s %7s", "start (UTC)", "open", "high", "low", "close", "volume", "trades")))
	for _, c := range list[max(0, len(list)-candleRows):] {
		closeCell := fmt.Sprintf("%12s", c.Close)
		switch cmpDecimalStrings(c.Close, c.Open) {
		case 1:
			closeCell = st.green(closeCell)
		case -1:
			closeCell = st.red(closeCell)
		}
		mark := ""
		if !c.Final {
			mark = st.yellow("  ◀ in progress")
		}
		start := time.UnixMicro(c.Start).UTC().Format("2006-01-02 15:04")
		lines = append(lines, fmt.Sprintf("  %-16s %12s %12s %12s %s %18s %7d%s", start, c.Open, c.High, c.Low, closeCell, c.Volume, c.Count, mark))
	}
	if ws := cs.WindowStart(); ws != 0 {
		lines = append(lines, st.dim("  complete from "+time.UnixMicro(ws).UTC().Format(time.RFC3339)))
	}
	return lines
}

// cmpDecimalStrings compares two decimal strings exactly: -1, 0 or 1 (0
// when one does not parse).
func cmpDecimalStrings(a, b string) int {
	x, err1 := decimal.NewFromString(a)
	y, err2 := decimal.NewFromString(b)
	if err1 != nil || err2 != nil {
		return 0
	}
	return x.Cmp(y)
}

// candlesOf keeps the candles of the view's channel from a candles event.
func (v *view) candlesOf(m *schemas.ServerMessage) bool {
	if v.candles == nil || m.Snapshot {
		v.candles = client.NewCandles(v.cfg.Channel)
	}
	return v.candles.Apply(m) == nil
}
