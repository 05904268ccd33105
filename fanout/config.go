package fanout

import (
	"errors"
	"log/slog"
	"time"
)

// Config tunes the WebSocket server. The zero value is usable: every zero
// field takes the default stated on it, applied once by NewHub.
type Config struct {
	// MaxMessageSize is the largest client message accepted, in bytes; a
	// larger frame closes the connection with 1009. Zero means 4096.
	MaxMessageSize int
	// PingInterval is how often the server pings each client. Zero means 20s.
	PingInterval time.Duration
	// IdleTimeout closes a connection (code 4000) from which no frame,
	// pong included, arrived for this long. Zero means 60s.
	IdleTimeout time.Duration
	// WriteTimeout bounds one write to a client socket; a client that does
	// not drain its socket for this long is disconnected. Zero means 10s.
	WriteTimeout time.Duration
	// MaxQueueBytes is the per-connection budget of queued, unwritten bytes;
	// past it the client is evicted as a slow consumer (4001). Zero means
	// 4 MiB.
	MaxQueueBytes int
	// MaxSubscriptions per connection. Zero means 100.
	MaxSubscriptions int
	// MaxInvalidMessages is how many invalid client messages a connection
	// may send before it is closed with 4002. Zero means 20.
	MaxInvalidMessages int
	// CloseLinger is how long the server waits for the client's close
	// frame after sending its own. Zero means 2s.
	CloseLinger time.Duration
	// Logger receives connection-level events. Nil means slog.Default().
	Logger *slog.Logger
	// Authorizer decides who may connect and what each connection may
	// receive. Nil means every client may connect and receive everything.
	Authorizer Authorizer
}

func (c Config) withDefaults() Config {
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = 4096
	}
	if c.PingInterval == 0 {
		c.PingInterval = 20 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.MaxQueueBytes == 0 {
		c.MaxQueueBytes = 4 << 20
	}
	if c.MaxSubscriptions == 0 {
		c.MaxSubscriptions = 100
	}
	if c.MaxInvalidMessages == 0 {
		c.MaxInvalidMessages = 20
	}
	if c.CloseLinger == 0 {
		c.CloseLinger = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.MaxMessageSize < 64:
		return errors.New("fanout: MaxMessageSize must be at least 64 bytes")
	case c.PingInterval < 0 || c.IdleTimeout < 0 || c.WriteTimeout < 0 || c.CloseLinger < 0:
		return errors.New("fanout: durations must not be negative")
	case c.IdleTimeout <= c.PingInterval:
		return errors.New("fanout: IdleTimeout must be longer than PingInterval")
	case c.MaxQueueBytes < 4096:
		return errors.New("fanout: MaxQueueBytes must be at least 4096")
	case c.MaxSubscriptions < 1 || c.MaxInvalidMessages < 1:
		return errors.New("fanout: MaxSubscriptions and MaxInvalidMessages must be positive")
	}
	return nil
}
