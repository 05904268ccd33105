package fanout

import (
	"errors"
	"log/slog"
	"time"

	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/internal/configerr"
)

// Config tunes the WebSocket server. The zero value is usable: every zero
// field takes the default stated on it, applied once by NewHub.
type Config struct {
	// Transport tunes every connection's transport: message size, pings,
	// queue budgets, sockets, compression, lifetime, poller (see
	// wsconn.Config for each field and its default).
	Transport wsconn.Config
	// MaxConnections bounds the open connections; an upgrade beyond it is
	// refused with HTTP 503 and counted. Zero means unlimited.
	MaxConnections int
	// MaxSubscriptions per connection. Zero means DefaultMaxSubscriptions
	// (100).
	MaxSubscriptions int
	// MaxMessagesPerSecond bounds the commands a client may send (a token
	// bucket with a burst of one second's worth); an excess command is
	// dropped with a rate_limited error, which counts as invalid (see
	// MaxInvalidMessages). An API key's plan may set a lower limit. Zero
	// means DefaultMaxMessagesPerSecond (50); negative means unlimited.
	MaxMessagesPerSecond int
	// MaxInvalidMessages is how many invalid client messages a connection
	// may send before it is closed with 4002. Zero means
	// DefaultMaxInvalidMessages (20).
	MaxInvalidMessages int
	// Authorizer decides who may connect and what each connection may
	// receive. Nil means every client may connect and receive everything.
	Authorizer Authorizer
	// Logger receives the hub's events, and the transport's when
	// Transport.Logger is nil. Nil means slog.Default().
	Logger *slog.Logger
	// TradeLog reads the Kafka log back for a trades resume whose
	// position the trade history no longer holds (trades_resume.go). Nil
	// means such a resume is refused.
	TradeLog TradeLog
	// TradeLogWindow is how old a trades position may be (by its ts, from
	// now) for the log to be read back for it: the window the log is known
	// to hold, the consumer's look-back (kafka.lookback). Zero means
	// DefaultTradeLogWindow (2m).
	TradeLogWindow time.Duration
}

// The session's defaults: what a zero field of Config means. The
// transport's fields take wsconn's defaults (wsconn.DefaultPingInterval,
// ...).
const (
	DefaultMaxSubscriptions     = 100
	DefaultMaxMessagesPerSecond = 50
	DefaultMaxInvalidMessages   = 20
)

// WithDefaults returns c with every zero field set to its default: the
// session's here, the transport's by wsconn.Config.WithDefaults, after a
// nil Transport.Logger has taken Logger.
func (c Config) WithDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Transport.Logger == nil {
		c.Transport.Logger = c.Logger
	}
	c.Transport = c.Transport.WithDefaults()
	if c.MaxSubscriptions == 0 {
		c.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if c.MaxMessagesPerSecond == 0 {
		c.MaxMessagesPerSecond = DefaultMaxMessagesPerSecond
	}
	if c.MaxInvalidMessages == 0 {
		c.MaxInvalidMessages = DefaultMaxInvalidMessages
	}
	if c.TradeLogWindow == 0 {
		c.TradeLogWindow = DefaultTradeLogWindow
	}
	return c
}

// ErrConfig reports an invalid Config; every *FieldError wraps it.
var ErrConfig = errors.New("fanout: invalid config")

// FieldError is one invalid field of a Config: Sentinel ErrConfig, Field
// its name ("MaxSubscriptions"), or for a field of the transport its path
// ("Transport.IdleTimeout") with Err the transport's *wsconn.FieldError;
// Err is nil for a field of the session. Validate and NewHub report one
// per invalid field, joined; each wraps ErrConfig.
type FieldError = configerr.FieldError

// Validate reports every invalid field of c as joined *FieldError values,
// nil if NewHub accepts it. Zero fields take their defaults first
// (WithDefaults: DefaultMaxSubscriptions, DefaultMaxInvalidMessages, and
// the transport's, wsconn.DefaultMaxMessageSize...). The transport's
// fields follow wsconn.Config.Validate (each error then names the field
// "Transport.<field>" and wraps the *wsconn.FieldError as well); the
// session's rules are MaxConnections not
// negative (zero is unlimited), MaxSubscriptions and MaxInvalidMessages at
// least 1. MaxMessagesPerSecond takes any value (negative: unlimited).
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	for _, e := range unjoin(c.Transport.Validate()) {
		var fe *wsconn.FieldError
		if errors.As(e, &fe) {
			e = &FieldError{Sentinel: ErrConfig, Field: "Transport." + fe.Field, Reason: fe.Reason, Err: fe}
		}
		errs = append(errs, e)
	}
	bad := func(field, format string, a ...any) {
		errs = append(errs, configerr.New(ErrConfig, field, nil, format, a...))
	}
	if c.MaxConnections < 0 {
		bad("MaxConnections", "must be 0 (unlimited) or positive, not %d", c.MaxConnections)
	}
	if c.MaxSubscriptions < 1 {
		bad("MaxSubscriptions", "must be positive, not %d", c.MaxSubscriptions)
	}
	if c.MaxInvalidMessages < 1 {
		bad("MaxInvalidMessages", "must be positive, not %d", c.MaxInvalidMessages)
	}
	return errors.Join(errs...)
}

// unjoin returns the errors joined in err (errors.Join), nil for nil.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err != nil {
		return []error{err}
	}
	return nil
}
