package auth

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/marketfeed/marketfeed/schemas"
)

// Plan is a named set of entitlements as written in the key file.
type Plan struct {
	// Symbols lists the symbols the plan may receive: exact names or glob
	// patterns in path.Match syntax ("BTC-*", "*-USD", "*"). Empty means
	// none.
	Symbols []string `json:"symbols"`
	// Channels lists the channel kinds allowed: "book", "bbo", "ticker",
	// "trades", "tickers", "candles". Empty means all of them.
	Channels []string `json:"channels,omitempty"`
	// MaxDepth is the deepest book view allowed. Zero means 1000 (all).
	MaxDepth int `json:"max_depth,omitempty"`
	// MinInterval is the fastest update interval allowed: "raw", "100ms"
	// or "1s". Empty means "raw".
	MinInterval string `json:"min_interval,omitempty"`
	// MaxConnections is the number of concurrent connections allowed per
	// key over the whole server (for the anonymous plan: for all anonymous
	// clients together). Zero means unlimited.
	MaxConnections int `json:"max_connections,omitempty"`
	// MaxSubscriptions per connection. Zero means the server's limit.
	MaxSubscriptions int `json:"max_subscriptions,omitempty"`
	// MessagesPerSecond limits the commands a connection may send, with a
	// burst of the same size. Zero means unlimited.
	MessagesPerSecond int `json:"messages_per_second,omitempty"`
}

// Denial reasons, the bounded label values of the denial metric and the
// subject an error names.
const (
	DenySymbol       = "symbol"
	DenyChannel      = "channel"
	DenyDepth        = "depth"
	DenyInterval     = "interval"
	DenyConnections  = "connection_limit"
	DenySubscription = "subscription_limit"
	DenyRate         = "rate_limit"
)

// Entitlements is a plan compiled for checking. It is immutable.
type Entitlements struct {
	exact    map[string]struct{}
	globs    []string
	all      bool
	channels [schemas.NumChannelKinds]bool // indexed by schemas.ChannelKind
	// MaxDepth is the deepest book view allowed.
	MaxDepth int
	// MinInterval is the shortest update period allowed; zero allows raw.
	MinInterval time.Duration
	// MaxConnections per key; zero means unlimited.
	MaxConnections int
	// MaxSubscriptions per connection; zero means the server's limit.
	MaxSubscriptions int
	// MessagesPerSecond a connection may send; zero means unlimited.
	MessagesPerSecond int
}

// Compile checks p and compiles it.
func (p *Plan) Compile() (*Entitlements, error) {
	e := &Entitlements{exact: make(map[string]struct{}), MaxDepth: p.MaxDepth,
		MaxConnections: p.MaxConnections, MaxSubscriptions: p.MaxSubscriptions,
		MessagesPerSecond: p.MessagesPerSecond}
	for _, s := range p.Symbols {
		switch {
		case s == "*":
			e.all = true
		case strings.ContainsAny(s, `*?[\`):
			if _, err := path.Match(s, ""); err != nil {
				return nil, fmt.Errorf("symbol pattern %q: %w", s, err)
			}
			e.globs = append(e.globs, s)
		case s == "":
			return nil, fmt.Errorf("empty symbol")
		default:
			e.exact[s] = struct{}{}
		}
	}
	if len(p.Channels) == 0 {
		for k := schemas.ChannelBook; k < schemas.NumChannelKinds; k++ {
			e.channels[k] = true
		}
	}
	for _, c := range p.Channels {
		k := channelKind(c)
		if k == 0 {
			return nil, fmt.Errorf("unknown channel kind %q (book, bbo, ticker, trades, tickers, candles)", c)
		}
		e.channels[k] = true
	}
	if e.MaxDepth == 0 {
		e.MaxDepth = 1000
	}
	if e.MaxDepth < 1 {
		return nil, fmt.Errorf("max_depth must be positive")
	}
	if p.MinInterval != "" {
		iv, ok := schemas.ParseInterval(p.MinInterval)
		if !ok {
			return nil, fmt.Errorf(`min_interval %q: want "raw", "100ms" or "1s"`, p.MinInterval)
		}
		e.MinInterval = iv.Period()
	}
	if p.MaxConnections < 0 || p.MaxSubscriptions < 0 || p.MessagesPerSecond < 0 {
		return nil, fmt.Errorf("limits must not be negative")
	}
	return e, nil
}

// channelKind returns the kind named name ("book", ...), 0 for none.
func channelKind(name string) schemas.ChannelKind {
	for k := schemas.ChannelBook; k < schemas.NumChannelKinds; k++ {
		if k.String() == name {
			return k
		}
	}
	return 0
}

// Symbol reports whether the symbol is allowed.
func (e *Entitlements) Symbol(symbol string) bool {
	if e.all {
		return true
	}
	if _, ok := e.exact[symbol]; ok {
		return true
	}
	for _, g := range e.globs {
		if ok, _ := path.Match(g, symbol); ok {
			return true
		}
	}
	return false
}

// Allow checks one subscription: channel kind, symbol, book depth (0 for
// other kinds) and update period (0 for raw). It returns "" when allowed,
// else the Deny* reason and a message naming what is not allowed. The
// tickers channel is checked with symbol "" for the subscription and with
// each symbol for the symbols it carries.
func (e *Entitlements) Allow(kind schemas.ChannelKind, symbol string, depth int, period time.Duration) (reason, msg string) {
	switch {
	case int(kind) >= len(e.channels) || !e.channels[kind]:
		return DenyChannel, "channel " + kind.String() + " is not included in your plan"
	case !(kind == schemas.ChannelTickers && symbol == "") && !e.Symbol(symbol):
		return DenySymbol, "symbol " + symbol + " is not included in your plan"
	case kind == schemas.ChannelBook && depth > e.MaxDepth:
		return DenyDepth, fmt.Sprintf("depth %d exceeds your plan's maximum of %d", depth, e.MaxDepth)
	case period < e.MinInterval:
		return DenyInterval, "intervals faster than " + intervalName(e.MinInterval) + " are not included in your plan"
	}
	return "", ""
}

// intervalName returns the protocol name of the interval of period d, the
// slowest interval's for a period that is none of them.
func intervalName(d time.Duration) string {
	if iv, ok := schemas.IntervalOfPeriod(d); ok {
		return iv.String()
	}
	return (schemas.NumIntervals - 1).String()
}
