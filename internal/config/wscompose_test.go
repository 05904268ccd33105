package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
)

// The websocket.* defaults are the hub's and the transport's own.
func TestWebSocketDefaultsAreTheLibraries(t *testing.T) {
	w := Default().WebSocket
	checks := []struct {
		key       string
		got, want any
	}{
		{"websocket.max_message_size", w.MaxMessageSize, wsconn.DefaultMaxMessageSize},
		{"websocket.max_subscriptions", w.MaxSubscriptions, fanout.DefaultMaxSubscriptions},
		{"websocket.max_invalid_messages", w.MaxInvalidMessages, fanout.DefaultMaxInvalidMessages},
		{"websocket.max_messages_per_second", w.MaxMessagesPerSec, fanout.DefaultMaxMessagesPerSecond},
		{"websocket.max_queue_bytes", w.MaxQueueBytes, wsconn.DefaultMaxQueueBytes},
		{"websocket.queue_frames", w.QueueFrames, wsconn.DefaultQueueFrames},
		{"websocket.max_queue_age", time.Duration(w.MaxQueueAge), wsconn.DefaultMaxQueueAge},
		{"websocket.socket_notsent_lowat", w.SocketNotSentLowat, wsconn.DefaultSocketNotSentLowat},
		{"websocket.compress_min_size", w.CompressMinSize, wsconn.DefaultCompressMinSize},
		{"websocket.ping_interval", time.Duration(w.PingInterval), wsconn.DefaultPingInterval},
		{"websocket.idle_timeout", time.Duration(w.IdleTimeout), wsconn.DefaultIdleTimeout},
		{"websocket.write_timeout", time.Duration(w.WriteTimeout), wsconn.DefaultWriteTimeout},
		{"websocket.lifetime_notice", time.Duration(w.LifetimeNotice), wsconn.DefaultLifetimeNotice},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: default %v, the library's is %v", c.key, c.got, c.want)
		}
	}
	// The file's defaults are what the hub makes of a zero Config.
	d := Default()
	if got, want := d.Server(nil).WS.WithDefaults(), (fanout.Config{}).WithDefaults(); got.Transport != want.Transport ||
		got.MaxSubscriptions != want.MaxSubscriptions || got.MaxInvalidMessages != want.MaxInvalidMessages ||
		got.MaxMessagesPerSecond != want.MaxMessagesPerSecond || got.MaxConnections != want.MaxConnections {
		t.Errorf("file defaults %+v, the hub's %+v", got, want)
	}
}

// The hub's rules reach the file's errors under the websocket key, with
// the library's reason, wrapping the library's error (the transport's as
// well for a transport field), each once.
func TestWebSocketValidationComesFromTheLibraries(t *testing.T) {
	tests := []struct {
		file      string
		key       string
		field     string
		transport bool
	}{
		{"websocket:\n  idle_timeout: 1s\n", "websocket.idle_timeout", "Transport.IdleTimeout", true},
		{"websocket:\n  ping_interval: 2m\n", "websocket.idle_timeout", "Transport.IdleTimeout", true},
		{"websocket:\n  max_message_size: 10\n", "websocket.max_message_size", "Transport.MaxMessageSize", true},
		{"websocket:\n  max_queue_bytes: 100\n", "websocket.max_queue_bytes", "Transport.MaxQueueBytes", true},
		{"websocket:\n  queue_frames: 2000000\n", "websocket.queue_frames", "Transport.QueueFrames", true},
		{"websocket:\n  queue_frames: 8\n", "websocket.queue_frames", "Transport.QueueFrames", true},
		{"websocket:\n  socket_send_buffer: -1\n", "websocket.socket_send_buffer", "Transport.SocketSendBuffer", true},
		{"websocket:\n  max_lifetime: -1s\n", "websocket.max_lifetime", "Transport.MaxLifetime", true},
		{"websocket:\n  max_connections: -1\n", "websocket.max_connections", "MaxConnections", false},
		{"websocket:\n  max_subscriptions: -1\n", "websocket.max_subscriptions", "MaxSubscriptions", false},
		{"websocket:\n  max_invalid_messages: -5\n", "websocket.max_invalid_messages", "MaxInvalidMessages", false},
	}
	for _, tt := range tests {
		_, err := Resolve(writeFile(t, tt.file), noEnv, nil)
		if !errors.Is(err, fanout.ErrConfig) || errors.Is(err, wsconn.ErrConfig) != tt.transport {
			t.Errorf("%q: %v, want an error wrapping fanout.ErrConfig (and wsconn.ErrConfig: %v)", tt.file, err, tt.transport)
			continue
		}
		var ke *KeyError
		var fe *fanout.FieldError
		if !errors.As(err, &ke) || ke.Key != tt.key || !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%q: %v, want the key %s from field %s", tt.file, err, tt.key, tt.field)
			continue
		}
		if ke.Reason != fe.Reason || err.Error() != tt.key+": "+fe.Reason {
			t.Errorf("%q: %q, want the key and the library's reason %q, once", tt.file, err, fe.Reason)
		}
		var we *wsconn.FieldError
		// One error type: the transport's is the one fanout's wraps.
		if tt.transport && (!errors.As(fe.Err, &we) || "Transport."+we.Field != tt.field || we.Reason != fe.Reason) {
			t.Errorf("%q: the transport's error is %v", tt.file, we)
		}
	}
}

// Where the hub would read a zero as its default, or any negative value
// as "no limit", the file's own rule refuses the value, and the hub's
// error about the same key, if any, is not repeated.
func TestWebSocketOwnRules(t *testing.T) {
	refused := map[string]string{
		"ping_interval: 0s":           "websocket.ping_interval",
		"ping_interval: -1s":          "websocket.ping_interval",
		"idle_timeout: 0s":            "websocket.idle_timeout",
		"idle_timeout: -1s":           "websocket.idle_timeout",
		"write_timeout: 0s":           "websocket.write_timeout",
		"lifetime_notice: 0s":         "websocket.lifetime_notice",
		"max_queue_age: -1s":          "websocket.max_queue_age",
		"max_message_size: 0":         "websocket.max_message_size",
		"max_queue_bytes: 0":          "websocket.max_queue_bytes",
		"queue_frames: 0":             "websocket.queue_frames",
		"max_subscriptions: 0":        "websocket.max_subscriptions",
		"max_invalid_messages: 0":     "websocket.max_invalid_messages",
		"compress_min_size: 0":        "websocket.compress_min_size",
		"compress_min_size: -1":       "websocket.compress_min_size",
		"max_messages_per_second: 0":  "websocket.max_messages_per_second",
		"max_messages_per_second: -2": "websocket.max_messages_per_second",
		"socket_notsent_lowat: -2":    "websocket.socket_notsent_lowat",
	}
	for line, key := range refused {
		_, err := Resolve(writeFile(t, "websocket:\n  "+line+"\n"), noEnv, nil)
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != key || ke.Err != nil {
			t.Errorf("%s: %v, want the file's own error under %s", line, err, key)
			continue
		}
		if n := strings.Count(err.Error(), key+":"); n != 1 {
			t.Errorf("%s: %s reported %d times: %v", line, key, n, err)
		}
		var fe *fanout.FieldError
		if errors.As(err, &fe) {
			t.Errorf("%s: the hub's error is repeated: %v", line, fe)
		}
	}
	for _, line := range []string{
		"max_messages_per_second: -1", "socket_notsent_lowat: -1", "socket_notsent_lowat: 0",
		"max_connections: 0", "max_lifetime: 0s", "socket_send_buffer: 0", "compress_min_size: 1",
	} {
		if _, err := Resolve(writeFile(t, "websocket:\n  "+line+"\n"), noEnv, nil); err != nil {
			t.Errorf("%s: %v", line, err)
		}
	}
}
