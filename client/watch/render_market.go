package watch

import (
	"strconv"
	"time"

	"github.com/marketfeed/marketfeed/schemas"
)

// dash stands for an absent value.
const dash = "-"

func orDash(s string) string {
	if s == "" {
		return dash
	}
	return s
}

// formatTS formats a µs timestamp as UTC wall time with milliseconds.
func formatTS(ts int64, layout string) string {
	if ts == 0 {
		return dash
	}
	return time.UnixMicro(ts).UTC().Format(layout)
}

// renderTicker draws the ticker message m (nil: nothing received yet) of
// channel. Values are right-aligned in one column; the 24 h change is green
// when positive and red when negative.
func renderTicker(channel string, m *schemas.ServerMessage, st style) []string {
	lines := []string{st.bold(channel)}
	if m == nil {
		return append(lines, "  waiting for data")
	}
	change, pct := orDash(m.Change), orDash(m.ChangePct)
	if m.Change != "" && sign(m.Change) > 0 {
		change = "+" + change
	}
	if m.ChangePct != "" {
		if sign(m.ChangePct) > 0 {
			pct = "+" + pct
		}
		pct += "%"
	}
	count := dash
	if m.Count > 0 {
		count = strconv.FormatInt(m.Count, 10)
	}
	rows := []struct{ label, value, extra string }{
		{"last", orDash(m.Last), sizeNote(m.LastSize)},
		{"24h chg", change, pct},
		{"open", orDash(m.Open), ""},
		{"high", orDash(m.High), ""},
		{"low", orDash(m.Low), ""},
		{"volume", orDash(m.Volume), ""},
		{"quote vol", orDash(m.QuoteVolume), ""},
		{"vwap", orDash(m.VWAP), ""},
		{"bid", orDash(m.Bid), sizeNote(m.BidSize)},
		{"ask", orDash(m.Ask), sizeNote(m.AskSize)},
		{"trades", count, ""},
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r.value))
	}
	for _, r := range rows {
		value, extra := padLeft(r.value, width), r.extra
		switch {
		case r.label == "24h chg" && sign(m.Change) > 0:
			value, extra = st.green(value), st.green(extra)
		case r.label == "24h chg" && sign(m.Change) < 0:
			value, extra = st.red(value), st.red(extra)
		case r.label == "bid":
			value = st.green(value)
		case r.label == "ask":
			value = st.red(value)
		}
		line := "  " + padRight(r.label, 11) + value
		if extra != "" {
			line += "  " + extra
		}
		lines = append(lines, line)
	}
	return append(lines, st.dim("  "+padRight("updated", 11)+formatTS(m.TS, "2006-01-02 15:04:05.000")+" UTC"))
}

func sizeNote(size string) string {
	if size == "" {
		return ""
	}
	return "× " + size
}

// tapeLen is the number of trades kept and shown by the trades view.
const tapeLen = 20

// renderTrades draws the tape of trades (oldest first) newest on top:
// time, side, price and size, right-aligned; buys green, sells red.
func renderTrades(channel string, trades []schemas.TradeMessage, st style) []string {
	lines := []string{st.bold(channel) + "  last " + strconv.Itoa(tapeLen) + " trades"}
	pw, sw := len("price"), len("size")
	for _, t := range trades {
		pw = max(pw, len(t.Price))
		sw = max(sw, len(t.Size))
	}
	const tw = len("15:04:05.000")
	lines = append(lines, st.dim("  "+padRight("time UTC", tw)+"  "+padRight("side", 4)+"  "+padLeft("price", pw)+"  "+padLeft("size", sw)))
	if len(trades) == 0 {
		return append(lines, "  waiting for trades")
	}
	for i := len(trades) - 1; i >= 0; i-- {
		t := trades[i]
		row := padRight(formatTS(t.TS, "15:04:05.000"), tw) + "  " + padRight(t.Side, 4) + "  " + padLeft(t.Price, pw) + "  " + padLeft(t.Size, sw)
		switch t.Side {
		case "buy":
			row = st.green(row)
		case "sell":
			row = st.red(row)
		}
		lines = append(lines, "  "+row)
	}
	return lines
}

// appendTape appends trades to tape, keeping the newest tapeLen.
func appendTape(tape, trades []schemas.TradeMessage) []schemas.TradeMessage {
	tape = append(tape, trades...)
	if n := len(tape) - tapeLen; n > 0 {
		tape = append(tape[:0], tape[n:]...)
	}
	return tape
}
