package watch

import (
	"fmt"
	"slices"

	"github.com/marketfeed/marketfeed/client"
)

// bookStatus describes a book's state for the status line.
func bookStatus(s client.BookState) string {
	switch s {
	case client.BookSynced:
		return "in sync"
	case client.BookGap:
		return "gap, resyncing"
	case client.BookWaiting:
		return "waiting for the book"
	case client.BookStale:
		return "stale upstream, view frozen"
	}
	return "waiting for snapshot"
}

// renderBook draws the ladder of b with at most depth levels per side:
// asks above with the best ask at the bottom of the ask block, a spread and
// mid line, then bids with the best bid on top. Price and size columns are
// right-aligned; each level has a size bar scaled to the largest size
// shown.
func renderBook(b *client.Book, depth int, st style) []string {
	bids, asks := b.Bids(), b.Asks()
	bids, asks = bids[:min(len(bids), depth)], asks[:min(len(asks), depth)]

	status := bookStatus(b.State())
	if b.Synced() {
		status = st.green(status)
	} else {
		status = st.yellow(status)
	}
	lines := []string{fmt.Sprintf("%s  seq %d  %s", st.bold(b.Channel()), b.Seq(), status)}

	pw, sw := len("price"), len("size")
	for _, side := range [2][][2]string{bids, asks} {
		for _, l := range side {
			pw = max(pw, len(l[0]))
			sw = max(sw, len(l[1]))
		}
	}
	maxSize := maxDecimal(bids, asks)
	row := func(l [2]string, paint func(string) string) string {
		cells := padLeft(l[0], pw) + "  " + padLeft(l[1], sw)
		return "  " + paint(cells) + "  " + paint(bar(l[1], maxSize, st.barWidth))
	}

	lines = append(lines, st.dim("  "+padLeft("price", pw)+"  "+padLeft("size", sw)))
	if len(asks) == 0 {
		lines = append(lines, "  "+padLeft("(no asks)", pw+2+sw))
	}
	for _, l := range slices.Backward(asks) {
		lines = append(lines, row(l, st.red))
	}
	lines = append(lines, spreadLine(bids, asks, pw+2+sw))
	for _, l := range bids {
		lines = append(lines, row(l, st.green))
	}
	if len(bids) == 0 {
		lines = append(lines, "  "+padLeft("(no bids)", pw+2+sw))
	}
	return lines
}

func spreadLine(bids, asks [][2]string, width int) string {
	if len(bids) == 0 || len(asks) == 0 {
		return "  " + padLeft("spread -", width)
	}
	spread, mid, ok := spreadMid(bids[0][0], asks[0][0])
	if !ok {
		return "  " + padLeft("spread ?", width)
	}
	return "  " + padLeft("spread "+spread, width) + "  mid " + mid
}
