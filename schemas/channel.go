package schemas

import "strings"

// ChannelKind is the kind of a WebSocket channel, the part of the channel
// name before the first '.'.
type ChannelKind uint8

// Channel kinds.
const (
	// ChannelBook: "book.<SYMBOL>", L2 snapshot, updates and status.
	ChannelBook ChannelKind = iota + 1
	// ChannelTicker: "ticker.<SYMBOL>", top of book and 24 h statistics.
	ChannelTicker
	// ChannelTrades: "trades.<SYMBOL>", executions.
	ChannelTrades
	// ChannelBBO: "bbo.<SYMBOL>", best bid and ask of the book.
	ChannelBBO
	// ChannelTickers: "tickers", the ticker of every symbol the key may
	// see, in one message per interval. Its symbol is "".
	ChannelTickers
	// ChannelCandles: "candles.<SYMBOL>", OHLCV candles of the symbol's
	// trades at a resolution.
	ChannelCandles

	// NumChannelKinds is one more than the largest kind: kinds index
	// tables of this length.
	NumChannelKinds
)

var channelKindNames = [...]string{"", "book", "ticker", "trades", "bbo", "tickers", "candles"}

// String returns the channel name prefix ("book", "ticker", "trades",
// "bbo", "tickers", "candles"), or "" for an invalid kind.
func (k ChannelKind) String() string {
	if int(k) < len(channelKindNames) {
		return channelKindNames[k]
	}
	return ""
}

// ParseChannel splits a channel name such as "book.BTC-USD" into its kind
// and symbol. The symbol follows the first '.', so it may itself contain
// dots. A malformed name or unknown kind is a *ProtocolError with code
// unknown_channel and Channel set to name.
func ParseChannel(name string) (ChannelKind, string, error) {
	if name == TickersChannel {
		return ChannelTickers, "", nil
	}
	prefix, symbol, ok := strings.Cut(name, ".")
	if !ok {
		return 0, "", &ProtocolError{Code: CodeUnknownChannel, Channel: name,
			Message: "malformed channel name: expected book.<SYMBOL>, bbo.<SYMBOL>, ticker.<SYMBOL>, trades.<SYMBOL> or candles.<SYMBOL>"}
	}
	var kind ChannelKind
	switch prefix {
	case "book":
		kind = ChannelBook
	case "ticker":
		kind = ChannelTicker
	case "trades":
		kind = ChannelTrades
	case "bbo":
		kind = ChannelBBO
	case "candles":
		kind = ChannelCandles
	default:
		return 0, "", &ProtocolError{Code: CodeUnknownChannel, Channel: name,
			Message: "unknown channel kind: expected book, bbo, ticker, trades or candles"}
	}
	if !ValidSymbol(symbol) {
		return 0, "", &ProtocolError{Code: CodeUnknownChannel, Channel: name,
			Message: "malformed symbol: expected 1-32 characters of A-Z a-z 0-9 - _ . /"}
	}
	return kind, symbol, nil
}

// TickersChannel is the name of the all-market tickers channel.
const TickersChannel = "tickers"

// DefaultDepth is the book depth of a subscription without "depth".
const DefaultDepth = 20

// ValidDepth reports whether d is an offered book depth: 1, 5, 10, 20, 50,
// 100, 500 or 1000.
func ValidDepth(d int) bool {
	switch d {
	case 1, 5, 10, 20, 50, 100, 500, 1000:
		return true
	}
	return false
}

// Update intervals of a subscription.
const (
	// IntervalRaw: one message per upstream event that changes the view.
	IntervalRaw = "raw"
	// Interval100ms: at most one message per 100 ms, merging the changes.
	Interval100ms = "100ms"
	// Interval1s: at most one message per second, merging the changes.
	Interval1s = "1s"
)

// ValidInterval reports whether s is "raw", "100ms" or "1s".
func ValidInterval(s string) bool {
	_, ok := ParseInterval(s)
	return ok
}

// DefaultInterval returns the interval of a subscription without
// "interval": "raw" for book, bbo and trades, "100ms" for ticker, "1s"
// for tickers and candles.
func DefaultInterval(k ChannelKind) string {
	switch k {
	case ChannelTicker:
		return Interval100ms
	case ChannelTickers, ChannelCandles:
		return Interval1s
	}
	return IntervalRaw
}
