package schemas

import (
	"strconv"

	"github.com/marketfeed/marketfeed/candle"
	"github.com/marketfeed/marketfeed/fixedpoint"
)

// CandlesMessageSize is an estimate of the encoded size of a candles
// message with n candles, for sizing buffers.
func CandlesMessageSize(n int) int { return 128 + 200*n }

// CandlesHeader is what a candles message says besides its candles.
type CandlesHeader struct {
	// Channel is the candles.<SYMBOL> channel.
	Channel string
	// Resolution is the candles' resolution.
	Resolution Resolution
	// Snapshot marks the message that replaces the client's candles
	// (the first of a subscription, and after a skip-ahead).
	Snapshot bool
	// WindowStart is the exchange time (µs) from which the candles hold
	// every trade the server read; written when HasWindow.
	WindowStart int64
	HasWindow   bool
}

// AppendCandles appends a candles message: the closed candles (final),
// oldest first, then the candle in progress cur when it is not nil. It
// does not allocate when dst has room.
func AppendCandles(dst []byte, h *CandlesHeader, closed []candle.Candle, cur *candle.Candle, sc Scales) []byte {
	dst = append(dst, `{"type":"candles","channel":"`...)
	dst = append(dst, h.Channel...)
	dst = append(dst, `","resolution":"`...)
	dst = append(dst, h.Resolution.String()...)
	dst = append(dst, '"')
	if h.Snapshot {
		dst = append(dst, `,"snapshot":true`...)
	}
	if h.HasWindow {
		dst = appendIntField(dst, "window_start", h.WindowStart)
	}
	dst = append(dst, `,"candles":[`...)
	for i := range closed {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendCandle(dst, &closed[i], true, sc)
	}
	if cur != nil {
		if len(closed) > 0 {
			dst = append(dst, ',')
		}
		dst = appendCandle(dst, cur, false, sc)
	}
	return append(dst, "]}"...)
}

func appendCandle(dst []byte, c *candle.Candle, final bool, sc Scales) []byte {
	dst = append(dst, `{"start":`...)
	dst = strconv.AppendInt(dst, c.Start, 10)
	dst = append(dst, `,"open":"`...)
	dst = fixedpoint.Append(dst, c.Open, sc.Price)
	dst = append(dst, `","high":"`...)
	dst = fixedpoint.Append(dst, c.High, sc.Price)
	dst = append(dst, `","low":"`...)
	dst = fixedpoint.Append(dst, c.Low, sc.Price)
	dst = append(dst, `","close":"`...)
	dst = fixedpoint.Append(dst, c.Close, sc.Price)
	dst = append(dst, `","volume":"`...)
	dst = c.Volume.AppendScaled(dst, sc.Size)
	dst = append(dst, `","quote_volume":"`...)
	dst = c.QuoteVolume.AppendScaled(dst, sc.Price+sc.Size)
	dst = append(dst, `","count":`...)
	dst = strconv.AppendInt(dst, c.Count, 10)
	if final {
		return append(dst, `,"final":true}`...)
	}
	return append(dst, `,"final":false}`...)
}
