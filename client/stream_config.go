package client

import (
	"errors"
	"net/http"
	"time"
)

// Subscription is one channel a Stream keeps subscribed.
type Subscription struct {
	// Channel is book.<SYMBOL>, bbo.<SYMBOL>, ticker.<SYMBOL>,
	// trades.<SYMBOL>, candles.<SYMBOL> or tickers.
	Channel string
	// Depth is the number of book levels per side (book channels only).
	// Zero leaves the server default (20).
	Depth int
	// Interval is "raw", "100ms" or "1s". Empty leaves the server default.
	Interval string
	// Lag is the lag policy (book, bbo and ticker channels): schemas.LagSnapshot
	// or schemas.LagEvict (see SubscribeOptions). Empty leaves the server
	// default (schemas.LagSnapshot).
	Lag string
	// Resolution is the candles' resolution (candles channels only): "1m",
	// "5m", "15m", "1h" or "1d". Empty leaves the server default ("1m").
	Resolution string
}

// StreamConfig configures a Stream.
type StreamConfig struct {
	// URL is the server's WebSocket endpoint, for example
	// ws://127.0.0.1:8080/ws. Required unless URLs is set.
	URL string
	// URLs are further endpoints of the same feed (replicas): the
	// connection attempts go to URL and then to each of URLs in turn, so
	// that a reconnection after a failure goes to the next replica (and
	// resumes there: seqs are the same on every replica). Nil means URL
	// alone.
	URLs []string
	// APIKey is sent with every upgrade request in the APIKeyHeader header.
	// Empty sends none.
	APIKey string
	// APIKeyHeader names the header carrying APIKey. Zero means
	// "X-API-Key".
	APIKeyHeader string
	// Header holds further upgrade request headers. Nil sends none.
	Header http.Header
	// Subscriptions are subscribed on every connection. At least one is
	// required.
	Subscriptions []Subscription
	// RawBooks delivers book messages without keeping local books: no
	// continuity check and no resynchronisation; Event.Book stays nil.
	// Zero means local books are kept.
	RawBooks bool
	// RetryMin is the reconnection delay after the first failure; it
	// doubles after each further failure. Zero means 250 ms.
	RetryMin time.Duration
	// RetryMax caps the reconnection delay. Zero means 10 s.
	RetryMax time.Duration
	// Tick, when positive, makes Run deliver an EventTick at least this
	// often while connected, on the handler's goroutine (for periodic work
	// such as redrawing a screen). Zero means no ticks.
	Tick time.Duration
	// Dial configures each connection (its Header is replaced by Header and
	// APIKey).
	Dial Options

	urls []string // URL, then URLs
}

// Defaults of StreamConfig.
const (
	DefaultAPIKeyHeader = "X-API-Key"
	defaultRetryMin     = 250 * time.Millisecond
	defaultRetryMax     = 10 * time.Second
)

// ErrStreamConfig reports an invalid StreamConfig.
var ErrStreamConfig = errors.New("client: invalid stream config")

func (c StreamConfig) withDefaults() (StreamConfig, error) {
	c.urls = nil
	for _, u := range append([]string{c.URL}, c.URLs...) {
		if u != "" {
			c.urls = append(c.urls, u)
		}
	}
	if len(c.urls) == 0 {
		return c, errors.Join(ErrStreamConfig, errors.New("URL is empty"))
	}
	if len(c.Subscriptions) == 0 {
		return c, errors.Join(ErrStreamConfig, errors.New("no subscriptions"))
	}
	seen := map[string]bool{}
	for _, s := range c.Subscriptions {
		if s.Channel == "" || seen[s.Channel] {
			return c, errors.Join(ErrStreamConfig, errors.New("empty or repeated channel "+s.Channel))
		}
		seen[s.Channel] = true
	}
	if c.APIKeyHeader == "" {
		c.APIKeyHeader = DefaultAPIKeyHeader
	}
	if c.RetryMin <= 0 {
		c.RetryMin = defaultRetryMin
	}
	if c.RetryMax <= 0 {
		c.RetryMax = defaultRetryMax
	}
	c.RetryMax = max(c.RetryMax, c.RetryMin)
	h := c.Header.Clone()
	if c.APIKey != "" {
		if h == nil {
			h = http.Header{}
		}
		h.Set(c.APIKeyHeader, c.APIKey)
	}
	c.Dial.Header = h
	return c, nil
}
