package config

import (
	"errors"
	"fmt"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/configerr"
	"github.com/marketfeed/marketfeed/server"
)

// KeyError is an invalid value of one key. When the rule broken is a
// library's (server.Config.Validate, feed.Config.Validate,
// fanout.Config.Validate, auth's), Unwrap returns that library's error: a
// field error (server.FieldError, feed.FieldError and fanout.FieldError
// are one type) wrapping the library's ErrConfig, and for a transport
// field fanout's wraps wsconn's.
type KeyError struct {
	// Key is the dotted key ("kafka.start").
	Key string
	// Reason says what is wrong with its value.
	Reason string
	// Err is the library's error, nil for a rule of the file itself.
	Err error
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Reason }

// Unwrap returns the library's error, if any.
func (e *KeyError) Unwrap() error { return e.Err }

// validation collects the errors of Validate. The file's own rules run
// first; a library's error about a key they already reported (a negative
// duration, say) is not repeated.
type validation struct {
	errs []error
	own  map[string]bool // keys reported by the file's own rules
}

func (v *validation) add(e *KeyError) {
	if e.Err == nil {
		if v.own == nil {
			v.own = map[string]bool{}
		}
		v.own[e.Key] = true
	} else if v.own[e.Key] {
		return
	}
	v.errs = append(v.errs, e)
}

// bad reports a value breaking a rule of the file itself.
func (v *validation) bad(key, format string, a ...any) {
	v.add(&KeyError{Key: key, Reason: fmt.Sprintf(format, a...)})
}

// positive reports a duration that is not positive. The libraries read
// zero as "the default"; in the file every key shows its default, so zero
// is refused rather than silently replaced.
func (v *validation) positive(key string, d Duration) {
	if d <= 0 {
		v.bad(key, "must be a positive duration")
	}
}

// set reports an empty string where a library would substitute its
// default (see positive).
func (v *validation) set(key, s, hint string) {
	if s == "" {
		v.bad(key, "must be set%s", hint)
	}
}

func (v *validation) err() error { return errors.Join(v.errs...) }

// serverKeys, feedKeys and wsKeys name the key of each library field the
// file configures (wsKeys: the fields of fanout.Config, those of its
// Transport by their path, as fanout.FieldError names them).
var (
	serverKeys = map[string]string{
		"Listen":          "listen",
		"AdminListen":     "admin_listen",
		"TLSCertFile":     "tls",
		"TLSKeyFile":      "tls",
		"ShutdownTimeout": "shutdown_timeout",
		"PublicHosts":     "auth.public_hosts",
		"Origins":         "auth.origins",
		"AnonymousPlan":   "auth.anonymous_plan",
		"KeysPoll":        "auth.keys_poll",
		"FeedDownAfter":   "kafka.feed_down_after",
		"SilentAfter":     "kafka.silent_after",
		"RESTBurst":       "http.rest_burst",
		"RESTEvery":       "http.rest_every",

		"TradeHistory.Window":   "trade_history.window",
		"TradeHistory.MaxBytes": "trade_history.max_bytes",
	}
	feedKeys = map[string]string{
		"Brokers":     "kafka.brokers",
		"Topic":       "kafka.topic",
		"Partitions":  "kafka.partitions",
		"Start":       "kafka.start",
		"Lookback":    "kafka.lookback",
		"MaxWait":     "kafka.max_wait",
		"MaxBytes":    "kafka.max_bytes",
		"DialTimeout": "kafka.dial_timeout",
		"ClientID":    "kafka.client_id",
	}
	wsKeys = map[string]string{
		"MaxConnections":               "websocket.max_connections",
		"Transport.MaxMessageSize":     "websocket.max_message_size",
		"MaxSubscriptions":             "websocket.max_subscriptions",
		"MaxInvalidMessages":           "websocket.max_invalid_messages",
		"MaxMessagesPerSecond":         "websocket.max_messages_per_second",
		"Transport.MaxQueueBytes":      "websocket.max_queue_bytes",
		"Transport.QueueFrames":        "websocket.queue_frames",
		"Transport.MaxQueueAge":        "websocket.max_queue_age",
		"Transport.SocketSendBuffer":   "websocket.socket_send_buffer",
		"Transport.SocketNotSentLowat": "websocket.socket_notsent_lowat",
		"Transport.DisableCompression": "websocket.compression",
		"Transport.CompressMinSize":    "websocket.compress_min_size",
		"Transport.PingInterval":       "websocket.ping_interval",
		"Transport.IdleTimeout":        "websocket.idle_timeout",
		"Transport.WriteTimeout":       "websocket.write_timeout",
		"Transport.MaxLifetime":        "websocket.max_lifetime",
		"Transport.LifetimeNotice":     "websocket.lifetime_notice",
		"Transport.DisablePoller":      "websocket.poller",
	}
)

// libraries name, by the ErrConfig sentinel of each library's
// *configerr.FieldError, the keys of its fields. fanout's errors about a
// transport field wrap wsconn's: the outermost field error is the
// library's.
var libraries = []struct {
	sentinel error
	keys     map[string]string
}{
	{server.ErrConfig, serverKeys},
	{feed.ErrConfig, feedKeys},
	{fanout.ErrConfig, wsKeys},
}

// library adds the errors of the libraries' Validate (err, a tree of
// joined errors), each under its key.
func (v *validation) library(err error) {
	if err == nil {
		return
	}
	fe, isField := err.(*configerr.FieldError)
	if j, ok := err.(interface{ Unwrap() []error }); ok && !isField {
		for _, e := range j.Unwrap() {
			v.library(e)
		}
		return
	}
	if isField || errors.As(err, &fe) {
		for _, l := range libraries {
			if errors.Is(fe.Sentinel, l.sentinel) {
				v.add(&KeyError{Key: keyOf(l.keys, fe.Field), Reason: fe.Reason, Err: err})
				return
			}
		}
	}
	v.add(&KeyError{Key: "config", Reason: err.Error(), Err: err})
}

// keyOf returns the key of a library field; a field the file does not
// configure (which holds its default, so should never be invalid) is named
// as it is.
func keyOf(keys map[string]string, field string) string {
	if k, ok := keys[field]; ok {
		return k
	}
	return field
}

// validateLog checks the log.* keys, which only the file has.
func (c *Config) validateLog(v *validation) {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		v.bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
}

// validateKafka checks the kafka.* keys the file requires beyond the
// consumer's rules (feed.Config.Validate): no empty value where the
// consumer would substitute its default.
func (c *Config) validateKafka(v *validation) {
	v.set("kafka.topic", c.Kafka.Topic, "")
	v.set("kafka.start", c.Kafka.Start, " (lookback, earliest or latest)")
	v.positive("kafka.lookback", c.Kafka.Lookback)
	v.positive("kafka.max_wait", c.Kafka.MaxWait)
	v.positive("kafka.dial_timeout", c.Kafka.DialTimeout)
	v.positive("kafka.feed_down_after", c.Kafka.FeedDownAfter)
}

// validateWebSocket checks the websocket.* keys the file requires beyond
// the hub's rules (fanout.Config.Validate, which includes the transport's,
// wsconn.Config.Validate): no zero where the hub would substitute its
// default, and -1 as the one spelling of "no limit" (or "no bound") where
// the hub reads any negative value so.
func (c *Config) validateWebSocket(v *validation) {
	w := &c.WebSocket
	v.positive("websocket.ping_interval", w.PingInterval)
	v.positive("websocket.idle_timeout", w.IdleTimeout)
	v.positive("websocket.write_timeout", w.WriteTimeout)
	v.positive("websocket.lifetime_notice", w.LifetimeNotice)
	v.positive("websocket.max_queue_age", w.MaxQueueAge)
	if w.MaxMessageSize == 0 {
		v.bad("websocket.max_message_size", "must be at least %d bytes, not 0", wsconn.MinMessageSize)
	}
	if w.MaxQueueBytes == 0 {
		v.bad("websocket.max_queue_bytes", "must be at least %d, not 0", wsconn.MinQueueBytes)
	}
	if w.QueueFrames == 0 {
		v.bad("websocket.queue_frames", "must be between %d and %d", wsconn.MinQueueFrames, wsconn.MaxQueueFrames)
	}
	if w.MaxSubscriptions == 0 {
		v.bad("websocket.max_subscriptions", "must be positive")
	}
	if w.MaxInvalidMessages == 0 {
		v.bad("websocket.max_invalid_messages", "must be positive")
	}
	// To the hub a negative bound means what 1 does (every message is
	// compressed); the file accepts only the latter.
	if w.CompressMinSize < 1 {
		v.bad("websocket.compress_min_size", "must be positive")
	}
	if w.MaxMessagesPerSec < -1 || w.MaxMessagesPerSec == 0 {
		v.bad("websocket.max_messages_per_second", "must be positive, or -1 for unlimited")
	}
	if w.SocketNotSentLowat < -1 {
		v.bad("websocket.socket_notsent_lowat", "must be -1 (no bound), 0 (the default) or positive")
	}
}
