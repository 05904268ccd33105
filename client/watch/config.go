package watch

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/marketfeed/marketfeed/schemas"
)

// Config configures Run.
type Config struct {
	// URL is the server's WebSocket endpoint. Zero means
	// ws://127.0.0.1:8080/ws.
	URL string
	// Channel is the channel to watch: book.<SYMBOL>, bbo.<SYMBOL>,
	// ticker.<SYMBOL>, trades.<SYMBOL>, candles.<SYMBOL> or tickers.
	// Required.
	Channel string
	// Depth is the number of book levels per side subscribed and shown.
	// Zero means 10. Ignored for other channels.
	Depth int
	// Interval is the subscription interval ("raw", "100ms", "1s"). Zero
	// means "100ms" in the live view and the server's default in raw mode.
	Interval string
	// Resolution is the candles' resolution ("1m", "5m", "15m", "1h",
	// "1d"; candles channels only). Zero means the server's default ("1m").
	Resolution string
	// Raw prints one JSON message per line, as received, instead of the
	// live view.
	Raw bool
	// APIKey is sent with the upgrade request in the X-API-Key header.
	// Empty sends none.
	APIKey string
	// Header holds extra upgrade request headers, for example
	// Authorization. Nil sends none.
	Header http.Header
	// Color enables ANSI colors in the live view (green for bids, buys and
	// rises, red for asks, sells and falls). Callers usually set it to
	// IsTerminal(out) unless the NO_COLOR environment variable is set. Zero
	// means no colors.
	Color bool
	// BarWidth is the width of the book's size bars in terminal cells. Zero
	// means 30.
	BarWidth int
	// RetryMin is the delay before the first reconnection attempt; it
	// doubles after each failed attempt. Zero means 500 ms.
	RetryMin time.Duration
	// RetryMax caps the reconnection delay. Zero means 10 s.
	RetryMax time.Duration
	// Log receives disconnection and retry notices in raw mode (the live
	// view shows them on screen). Nil discards them.
	Log io.Writer
}

// DefaultURL is the endpoint used when Config.URL is empty.
const DefaultURL = "ws://127.0.0.1:8080/ws"

// Channel kinds.
const (
	kindBook    = "book"
	kindBBO     = "bbo"
	kindTicker  = "ticker"
	kindTrades  = "trades"
	kindCandles = "candles"
	// kindTickers is the tickers channel, which has no symbol.
	kindTickers = "tickers"
)

// ErrChannel reports a Config.Channel that is not book.<SYMBOL>,
// bbo.<SYMBOL>, ticker.<SYMBOL>, trades.<SYMBOL>, candles.<SYMBOL> or
// tickers.
var ErrChannel = errors.New("watch: channel must be book.<SYMBOL>, bbo.<SYMBOL>, ticker.<SYMBOL>, trades.<SYMBOL>, candles.<SYMBOL> or tickers")

func (c Config) withDefaults() (Config, string, error) {
	kind, sym, ok := strings.Cut(c.Channel, ".")
	if c.Channel == kindTickers {
		kind, sym, ok = kindTickers, "", true
		if c.Interval == "" {
			c.Interval = schemas.Interval1s // the channel's default; it has no raw
		}
	} else if !ok || sym == "" || (kind != kindBook && kind != kindBBO && kind != kindTicker && kind != kindTrades && kind != kindCandles) {
		return c, "", fmt.Errorf("%w (got %q)", ErrChannel, c.Channel)
	}
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.Depth <= 0 {
		c.Depth = 10
	}
	if c.Interval == "" && !c.Raw {
		c.Interval = "100ms"
	}
	if c.BarWidth <= 0 {
		c.BarWidth = 30
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 500 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 10 * time.Second
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = c.RetryMin
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c, kind, nil
}
