package watch

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/schemas"
)

const chBook = "book.BTC-USD"

func mustBook(t *testing.T, bids, asks [][2]string) *client.Book {
	t.Helper()
	b := client.NewBook(chBook)
	if err := b.Apply(&schemas.ServerMessage{Type: schemas.TypeSnapshot, Channel: chBook, Seq: 100, Bids: bids, Asks: asks}); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return b
}

// ladderRow finds the line showing the level [price, size].
func ladderRow(lines []string, l [2]string) (int, string) {
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == l[0] && f[1] == l[1] {
			return i, line
		}
	}
	return -1, ""
}

func barCells(line string) int {
	n := 0
	for _, r := range line {
		switch {
		case r == '█':
			n += 8
		case r >= '▉' && r <= '▏':
			n += int('▏'-r) + 1
		}
	}
	return n
}

func TestRenderBookLadder(t *testing.T) {
	bids := [][2]string{{"100.10", "2.00"}, {"100.00", "4.00"}, {"99.90", "1.00"}, {"9.90", "8.00"}}
	asks := [][2]string{{"100.20", "3.00"}, {"100.30", "6.00"}, {"1000.40", "0.50"}, {"1000.50", "9.00"}}
	const depth, width = 3, 16
	b := mustBook(t, bids, asks)
	lines := renderBook(b, depth, style{barWidth: width})

	if !strings.Contains(lines[0], chBook) || !strings.Contains(lines[0], "seq 100") || !strings.Contains(lines[0], "in sync") {
		t.Errorf("status line %q", lines[0])
	}
	shownBids, shownAsks := bids[:depth], asks[:depth]
	var maxSize int
	for _, l := range append(append([][2]string{}, shownBids...), shownAsks...) {
		var n, frac int
		fmt.Sscanf(l[1], "%d.%d", &n, &frac)
		maxSize = max(maxSize, n*100+frac)
	}
	var priceEnd, sizeEnd []int
	rowOf := map[[2]string]int{}
	for _, l := range append(append([][2]string{}, shownBids...), shownAsks...) {
		i, line := ladderRow(lines, l)
		if i < 0 {
			t.Fatalf("level %v not shown:\n%s", l, strings.Join(lines, "\n"))
		}
		rowOf[l] = i
		priceEnd = append(priceEnd, strings.Index(line, l[0])+len(l[0]))
		sizeEnd = append(sizeEnd, strings.Index(line, l[1])+len(l[1]))
		// Bar length in eighths follows size/max, rounded.
		var n, frac int
		fmt.Sscanf(l[1], "%d.%d", &n, &frac)
		size := n*100 + frac
		want := (size*width*8 + maxSize/2) / maxSize
		if got := barCells(line); got != want {
			t.Errorf("level %v: bar of %d eighths, want %d", l, got, want)
		}
	}
	for i := range priceEnd {
		if priceEnd[i] != priceEnd[0] || sizeEnd[i] != sizeEnd[0] {
			t.Errorf("columns not right-aligned: price ends %v, size ends %v", priceEnd, sizeEnd)
			break
		}
	}
	for _, l := range [][2]string{bids[depth], asks[depth]} {
		if i, _ := ladderRow(lines, l); i >= 0 {
			t.Errorf("level %v beyond depth %d is shown", l, depth)
		}
	}
	// Asks: worst on top, best at the bottom of the block; then the spread
	// line; then bids best first.
	order := []int{rowOf[asks[2]], rowOf[asks[1]], rowOf[asks[0]], -1, rowOf[bids[0]], rowOf[bids[1]], rowOf[bids[2]]}
	order[3] = order[2] + 1
	for i := 1; i < len(order); i++ {
		if order[i] != order[i-1]+1 {
			t.Fatalf("ladder order wrong (rows %v):\n%s", order, strings.Join(lines, "\n"))
		}
	}
	spread := lines[order[3]]
	if !strings.Contains(spread, "spread 0.10") || !strings.Contains(spread, "mid 100.15") {
		t.Errorf("spread line %q", spread)
	}
	for _, l := range lines {
		if strings.Contains(l, "\x1b") {
			t.Errorf("escape sequence without color: %q", l)
		}
	}
}

func TestRenderBookColorAndStates(t *testing.T) {
	b := mustBook(t, [][2]string{{"1.00", "1"}}, [][2]string{{"2.00", "1"}})
	colored := strings.Join(renderBook(b, 10, style{color: true, barWidth: 4}), "\n")
	for _, code := range []string{escGreen, escRed, escReset} {
		if !strings.Contains(colored, code) {
			t.Errorf("colored ladder lacks %q", code)
		}
	}
	// A gap keeps the levels and says so.
	err := b.Apply(&schemas.ServerMessage{Type: schemas.TypeUpdate, Channel: chBook, FirstSeq: 200, Seq: 200})
	if err == nil {
		t.Fatalf("gap not detected")
	}
	lines := renderBook(b, 10, style{barWidth: 4})
	if !strings.Contains(lines[0], "gap, resyncing") {
		t.Errorf("status after gap %q", lines[0])
	}
	if i, _ := ladderRow(lines, [2]string{"1.00", "1"}); i < 0 {
		t.Errorf("levels dropped after gap")
	}
	empty := renderBook(client.NewBook(chBook), 10, style{barWidth: 4})
	all := strings.Join(empty, "\n")
	for _, want := range []string{"waiting for snapshot", "(no asks)", "(no bids)", "spread -"} {
		if !strings.Contains(all, want) {
			t.Errorf("empty book lacks %q:\n%s", want, all)
		}
	}
}

func TestSpreadMid(t *testing.T) {
	tests := []struct {
		bid, ask, spread, mid string
	}{
		{bid: "100.10", ask: "100.20", spread: "0.10", mid: "100.15"},
		{bid: "100.10", ask: "100.30", spread: "0.20", mid: "100.20"},
		{bid: "5", ask: "6", spread: "1", mid: "5.5"},
		{bid: "5", ask: "7", spread: "2", mid: "6"},
		{bid: "1.5", ask: "1.75", spread: "0.25", mid: "1.625"},
		{bid: "99999999999999999.99", ask: "100000000000000000.01", spread: "0.02", mid: "100000000000000000.00"},
		{bid: "2.00", ask: "1.00", spread: "-1.00", mid: "1.50"},
	}
	for _, tt := range tests {
		spread, mid, ok := spreadMid(tt.bid, tt.ask)
		if !ok || spread != tt.spread || mid != tt.mid {
			t.Errorf("spreadMid(%s, %s) = %s, %s, %v; want %s, %s", tt.bid, tt.ask, spread, mid, ok, tt.spread, tt.mid)
		}
	}
	if _, _, ok := spreadMid("x", "1"); ok {
		t.Errorf("spreadMid accepted a non-decimal")
	}
}

func TestBar(t *testing.T) {
	tests := []struct {
		size, max string
		width     int
		eighths   int
	}{
		{size: "10", max: "10", width: 5, eighths: 40},
		{size: "5", max: "10", width: 5, eighths: 20},
		{size: "1", max: "8", width: 1, eighths: 1},
		{size: "0.00000001", max: "1000", width: 10, eighths: 1},
		{size: "3", max: "8", width: 2, eighths: 6},
		{size: "0", max: "8", width: 2, eighths: 0},
		{size: "12", max: "8", width: 2, eighths: 16},
	}
	for _, tt := range tests {
		got := bar(tt.size, maxDecimal([][2]string{{"", tt.max}}), tt.width)
		if barCells(got) != tt.eighths || utf8.RuneCountInString(got) > tt.width {
			t.Errorf("bar(%s, %s, %d) = %q (%d eighths), want %d eighths", tt.size, tt.max, tt.width, got, barCells(got), tt.eighths)
		}
	}
}

func TestRenderTicker(t *testing.T) {
	m := &schemas.ServerMessage{
		Type: schemas.TypeTicker, Channel: "ticker.BTC-USD", TS: 1767225600123000,
		Bid: "64123.10", BidSize: "0.50000000", Ask: "64123.20", AskSize: "0.30000000",
		Last: "64123.10", LastSize: "0.01500000", Open: "63000.00", High: "64500.00", Low: "62900.00",
		Volume: "1234.50000000", VWAP: "64093.12", Change: "1123.10", ChangePct: "1.78", Count: 53211,
	}
	lines := renderTicker(m.Channel, m, style{})
	all := strings.Join(lines, "\n")
	for _, want := range []string{"64123.10", "+1123.10", "+1.78%", "64500.00", "62900.00", "1234.50000000", "64093.12", "64123.20", "53211", "2026-01-01 00:00:00.123 UTC"} {
		if !strings.Contains(all, want) {
			t.Errorf("ticker lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "\x1b") {
		t.Errorf("escape sequence without color")
	}
	// Values end in the same column.
	ends := map[int]bool{}
	for _, v := range []string{m.Last, m.High, m.Low, m.Volume, m.VWAP, m.Bid, m.Ask} {
		for _, l := range lines {
			if i := strings.Index(l, v); i >= 0 {
				ends[i+len(v)] = true
				break
			}
		}
	}
	if len(ends) != 1 {
		t.Errorf("ticker values not right-aligned (ends %v):\n%s", ends, all)
	}

	changeLine := func(m *schemas.ServerMessage) string {
		for _, l := range renderTicker(m.Channel, m, style{color: true}) {
			if strings.Contains(l, "24h chg") {
				return l
			}
		}
		return ""
	}
	if up := changeLine(m); !strings.Contains(up, escGreen) || strings.Contains(up, escRed) || !strings.Contains(up, "+1123.10") {
		t.Errorf("positive change line %q", up)
	}
	down := *m
	down.Change, down.ChangePct = "-12.00", "-0.02"
	if dl := changeLine(&down); !strings.Contains(dl, escRed) || strings.Contains(dl, escGreen) || !strings.Contains(dl, "-12.00") || strings.Contains(dl, "+") {
		t.Errorf("negative change line %q", dl)
	}
	flat := *m
	flat.Change, flat.ChangePct = "0.00", "0.00"
	if fl := changeLine(&flat); strings.Contains(fl, escRed) || strings.Contains(fl, escGreen) || strings.Contains(fl, "+") {
		t.Errorf("zero change line %q", fl)
	}

	sparse := renderTicker(m.Channel, &schemas.ServerMessage{Type: schemas.TypeTicker, Channel: m.Channel}, style{})
	for _, l := range sparse[1 : len(sparse)-1] {
		if !strings.Contains(l, dash) {
			t.Errorf("absent value not shown as %q: %q", dash, l)
		}
	}
	if w := renderTicker(m.Channel, nil, style{}); !strings.Contains(strings.Join(w, "\n"), "waiting") {
		t.Errorf("no ticker yet: %q", w)
	}
}

func TestRenderTrades(t *testing.T) {
	var tape []schemas.TradeMessage
	for i := range tapeLen + 5 {
		side := "buy"
		if i%3 == 0 {
			side = "sell"
		}
		tape = appendTape(tape, []schemas.TradeMessage{{
			ID: fmt.Sprint(i), TS: 1767225600000000 + int64(i)*1000,
			Price: fmt.Sprintf("%d.%02d", 64000+i*37, i), Size: fmt.Sprintf("0.%08d", i+1), Side: side,
		}})
	}
	if len(tape) != tapeLen || tape[0].ID != "5" || tape[tapeLen-1].ID != fmt.Sprint(tapeLen+4) {
		t.Fatalf("tape keeps %d trades from %s to %s", len(tape), tape[0].ID, tape[len(tape)-1].ID)
	}
	lines := renderTrades("trades.BTC-USD", tape, style{})
	rows := lines[2:]
	if len(rows) != tapeLen {
		t.Fatalf("%d rows, want %d", len(rows), tapeLen)
	}
	priceEnd := -1
	for i, row := range rows {
		tr := tape[len(tape)-1-i] // newest first
		f := strings.Fields(row)
		if len(f) != 4 || f[1] != tr.Side || f[2] != tr.Price || f[3] != tr.Size {
			t.Errorf("row %d = %q, want trade %+v", i, row, tr)
		}
		end := strings.Index(row, tr.Price) + len(tr.Price)
		if priceEnd >= 0 && end != priceEnd {
			t.Errorf("price column not right-aligned at row %d", i)
		}
		priceEnd = end
	}
	colored := renderTrades("trades.BTC-USD", tape, style{color: true})[2:]
	for i, row := range colored {
		want := escGreen
		if tape[len(tape)-1-i].Side == "sell" {
			want = escRed
		}
		if !strings.HasPrefix(strings.TrimSpace(row), want) {
			t.Errorf("row %d %q not colored %q", i, row, want)
		}
	}
	for _, l := range lines {
		if strings.Contains(l, "\x1b") {
			t.Errorf("escape sequence without color: %q", l)
		}
	}
}

func TestScreen(t *testing.T) {
	lines := []string{"a", "bb"}
	first := string(screen(lines, true))
	if !strings.HasPrefix(first, escHideCursor+escClearScreen+escHome) {
		t.Errorf("first frame does not clear: %q", first)
	}
	next := string(screen(lines, false))
	if strings.Contains(next, escClearScreen) || !strings.HasPrefix(next, escHome) || !strings.HasSuffix(next, escClearBelow) {
		t.Errorf("frame %q", next)
	}
	if strings.Count(next, escClearLine+"\n") != len(lines) {
		t.Errorf("each line must clear its tail: %q", next)
	}
}

func TestRenderTickers(t *testing.T) {
	m := &schemas.ServerMessage{Type: schemas.TypeTickers, Channel: schemas.TickersChannel, Tickers: []schemas.ServerMessage{
		{Type: schemas.TypeTicker, Channel: "ticker.BTC-USD", Last: "64123.10", ChangePct: "1.78", Volume: "1234.50000000"},
		{Type: schemas.TypeTicker, Channel: "ticker.ETH-USD", Bid: "3210.50"},
	}}
	all := strings.Join(renderTickers(m, style{}), "\n")
	for _, want := range []string{"BTC-USD", "64123.10", "+1.78%", "1234.50000000", "ETH-USD", "3210.50"} {
		if !strings.Contains(all, want) {
			t.Errorf("tickers lack %q:\n%s", want, all)
		}
	}
	if got := strings.Join(renderTickers(nil, style{}), "\n"); !strings.Contains(got, "waiting") {
		t.Errorf("no message yet: %q", got)
	}
}
