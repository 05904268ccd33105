package watch

import (
	"strconv"

	"github.com/marketfeed/marketfeed/schemas"
)

// renderBBO draws the last bbo message m of channel (nil: none yet) and,
// when the book is not served, the last status message (status, nil
// while served): best bid and ask with their sizes, spread and mid, the
// book's seq and the exchange time.
func renderBBO(channel string, m, status *schemas.ServerMessage, st style) []string {
	lines := []string{st.bold(channel)}
	if status != nil {
		s := "  book " + status.Status
		if status.Reason != "" {
			s += " (" + status.Reason + ")"
		}
		lines = append(lines, st.yellow(s+": the top below is not to be trusted"))
	}
	if m == nil {
		return append(lines, "  waiting for data")
	}
	spread, mid := dash, dash
	if m.Bid != "" && m.Ask != "" {
		if s, md, ok := spreadMid(m.Bid, m.Ask); ok {
			spread, mid = s, md
		}
	}
	rows := []struct{ label, value, extra string }{
		{"bid", orDash(m.Bid), sizeNote(m.BidSize)},
		{"ask", orDash(m.Ask), sizeNote(m.AskSize)},
		{"spread", spread, ""},
		{"mid", mid, ""},
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r.value))
	}
	for _, r := range rows {
		value := padLeft(r.value, width)
		switch r.label {
		case "bid":
			value = st.green(value)
		case "ask":
			value = st.red(value)
		}
		line := "  " + padRight(r.label, 11) + value
		if r.extra != "" {
			line += "  " + r.extra
		}
		lines = append(lines, line)
	}
	lines = append(lines, st.dim("  "+padRight("seq", 11)+strconv.FormatUint(m.Seq, 10)+"  epoch "+strconv.FormatUint(m.Epoch, 10)))
	return append(lines, st.dim("  "+padRight("updated", 11)+formatTS(m.TS, "2006-01-02 15:04:05.000")+" UTC"))
}
