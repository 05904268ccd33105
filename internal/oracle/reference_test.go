package oracle

import (
	"fmt"
	"testing"

	"github.com/shopspring/decimal"
)

func TestBookTop(t *testing.T) {
	b := NewBook()
	for _, l := range [][3]int64{{1, 100, 1}, {1, 102, 2}, {1, 101, 3}, {0, 103, 4}, {0, 105, 5}, {0, 104, 6}, {1, 99, 7}, {1, 99, 0}} {
		b.Set(l[0] == 1, l[1], l[2])
	}
	cases := []struct {
		bid  bool
		n    int
		want string
	}{
		{true, 0, "[[102 2] [101 3] [100 1]]"},
		{true, 2, "[[102 2] [101 3]]"},
		{true, 10, "[[102 2] [101 3] [100 1]]"},
		{false, 0, "[[103 4] [104 6] [105 5]]"},
		{false, 1, "[[103 4]]"},
	}
	for _, tc := range cases {
		if got := fmt.Sprint(b.Top(tc.bid, tc.n)); got != tc.want {
			t.Errorf("Top(%v, %d) = %s, want %s", tc.bid, tc.n, got, tc.want)
		}
	}
	b.Reset()
	if len(b.Top(true, 0))+len(b.Top(false, 0)) != 0 {
		t.Error("Reset left levels")
	}
}

func TestTickerStats(t *testing.T) {
	const m = int64(60_000_000)
	tk := &Ticker{PriceScale: 2, SizeScale: 1}
	tk.Add(0, 1000, 10)        // 10.00 × 1.0, minute 0
	tk.Add(m, 1100, 30)        // 11.00 × 3.0, minute 1
	tk.Add(30_000_000, 900, 5) // late: 9.00 × 0.5, minute 0
	cases := []struct {
		now                      int64
		count, open, high, low   int64
		volume, quote, vwap, pct string
	}{
		// all three: volume 4.5, quote 10+33+4.5 = 47.5, vwap 10.555… → 10.56,
		// last is the late 9.00 trade: change 9-10 = -1 → -10.00 %.
		{m, 3, 1000, 1100, 900, "4.5", "47.5", "10.56", "-10.00"},
		// minute 0 still in: the window is minutes 0 … 1439
		{1439 * m, 3, 1000, 1100, 900, "4.5", "47.5", "10.56", "-10.00"},
		// minute 0 out: only the 11.00 trade, open 11 → change -2, -18.18 %.
		{1440 * m, 1, 1100, 1100, 1100, "3", "33", "11.00", "-18.18"},
		{1441 * m, 0, 0, 0, 0, "0", "0", "0.00", "0.00"},
	}
	for _, tc := range cases {
		s := tk.Stats(tc.now)
		got := fmt.Sprintln(s.Count, s.Open, s.High, s.Low, s.Volume.String(), s.QuoteVolume.String(), s.VWAP.StringFixed(2), s.ChangePct.StringFixed(2))
		want := fmt.Sprintln(tc.count, tc.open, tc.high, tc.low, tc.volume, tc.quote, tc.vwap, tc.pct)
		if got != want {
			t.Errorf("now=%d: got %s, want %s", tc.now, got, want)
		}
		if !s.HasLast || s.Last != 900 || s.LastSize != 5 {
			t.Errorf("now=%d: last = %v %d %d, want the last added (900, 5)", tc.now, s.HasLast, s.Last, s.LastSize)
		}
	}
}

func TestRoundHalfEven(t *testing.T) {
	cases := []struct {
		n, d   string
		places int32
		want   string
	}{
		{"1", "8", 2, "0.12"},     // 0.125 → 0.12
		{"3", "8", 2, "0.38"},     // 0.375 → 0.38
		{"-1", "8", 2, "-0.12"},   // -0.125 → -0.12
		{"-3", "8", 2, "-0.38"},   // -0.375 → -0.38
		{"2", "3", 0, "1"},        // 0.67 → 1
		{"1", "-3", 1, "-0.3"},    // -0.333 → -0.3
		{"5", "2", 0, "2"},        // 2.5 → 2
		{"7", "2", 0, "4"},        // 3.5 → 4
		{"10", "4", 1, "2.5"},     // exact
		{"201", "200", 2, "1.00"}, // 1.005 → 1.00
	}
	for _, tc := range cases {
		got := roundHalfEven(mustDec(t, tc.n), mustDec(t, tc.d), tc.places)
		if got.StringFixed(tc.places) != tc.want || got.Exponent() != -tc.places {
			t.Errorf("roundHalfEven(%s, %s, %d) = %s (exp %d), want %s", tc.n, tc.d, tc.places, got, got.Exponent(), tc.want)
		}
	}
}

func mustDec(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
