package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/server"
)

// The defaults of the keys are the libraries' own: a default changed in
// package server, feed or auth is the file's default as well.
func TestDefaultsAreTheLibraries(t *testing.T) {
	d := Default()
	checks := []struct {
		key       string
		got, want any
	}{
		{"listen", d.Listen, server.DefaultListen},
		{"shutdown_timeout", time.Duration(d.ShutdownTimeout), server.DefaultShutdownTimeout},
		{"kafka.topic", d.Kafka.Topic, feed.DefaultTopic},
		{"kafka.start", d.Kafka.Start, feed.StartLookback},
		{"kafka.lookback", time.Duration(d.Kafka.Lookback), feed.DefaultLookback},
		{"kafka.max_wait", time.Duration(d.Kafka.MaxWait), feed.DefaultMaxWait},
		{"kafka.max_bytes", d.Kafka.MaxBytes, feed.DefaultMaxBytes},
		{"kafka.dial_timeout", time.Duration(d.Kafka.DialTimeout), feed.DefaultDialTimeout},
		{"kafka.client_id", d.Kafka.ClientID, feed.DefaultClientID},
		{"kafka.feed_down_after", time.Duration(d.Kafka.FeedDownAfter), feed.DefaultFeedDownAfter},
		{"kafka.silent_after", time.Duration(d.Kafka.SilentAfter), feed.DefaultSilentAfter},
		{"auth.keys_poll", time.Duration(d.Auth.KeysPoll), auth.DefaultKeysPoll},
		{"http.read_header_timeout", time.Duration(d.HTTP.ReadHeaderTimeout), server.DefaultReadHeaderTimeout},
		{"http.max_connections", d.HTTP.MaxConnections, server.DefaultMaxConns},
		{"history.window", time.Duration(d.History.Window), market.DefaultHistoryWindow},
		{"history.max_bytes", d.History.MaxBytes, market.DefaultHistoryMaxBytes},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: default %v, the library's is %v", c.key, c.got, c.want)
		}
	}
	// The server configuration of the defaults is valid for the libraries.
	if err := d.Server(nil).Validate(); err != nil {
		t.Fatal(err)
	}
}

// The rules of the libraries reach the file's errors: under the key, with
// the library's reason, and wrapping the library's error.
func TestValidationComesFromTheLibraries(t *testing.T) {
	tests := []struct {
		file  string
		key   string
		field string
		is    error
	}{
		{"kafka:\n  start: middle\n", "kafka.start", "Start", feed.ErrConfig},
		{"kafka:\n  brokers: [nohost]\n", "kafka.brokers", "Brokers", feed.ErrConfig},
		{"kafka:\n  partitions: [3, 3]\n", "kafka.partitions", "Partitions", feed.ErrConfig},
		// A bound the file did not check before it composed the
		// consumer's rules.
		{"kafka:\n  max_bytes: 2147483648\n", "kafka.max_bytes", "MaxBytes", feed.ErrConfig},
		{"listen: nowhere\n", "listen", "Listen", server.ErrConfig},
		{"listen: \":1\"\nadmin_listen: \":1\"\n", "admin_listen", "AdminListen", server.ErrConfig},
		{"tls:\n  key_file: k.pem\n", "tls", "TLSCertFile", server.ErrConfig},
		{"auth:\n  keys_file: k.json\n  public_hosts: [\"*.example\"]\n", "auth.public_hosts", "PublicHosts", auth.ErrPublicHost},
	}
	for _, tt := range tests {
		_, err := Resolve(writeFile(t, tt.file), noEnv, nil)
		if !errors.Is(err, tt.is) {
			t.Errorf("%q: %v, want an error wrapping %v", tt.file, err, tt.is)
			continue
		}
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != tt.key {
			t.Errorf("%q: %v, want the key %s", tt.file, err, tt.key)
			continue
		}
		var field, reason string
		var fe *feed.FieldError
		var se *server.FieldError
		switch {
		case errors.As(err, &fe):
			field, reason = fe.Field, fe.Reason
		case errors.As(err, &se):
			field, reason = se.Field, se.Reason
		}
		if field != tt.field || ke.Reason != reason || !strings.HasPrefix(err.Error(), tt.key+": "+reason) {
			t.Errorf("%q: %q from field %s (%q), want field %s", tt.file, err, field, reason, tt.field)
		}
	}
}

// A value both the file and a library refuse is reported once, by the
// file's rule.
func TestOneErrorPerRule(t *testing.T) {
	_, err := Resolve(writeFile(t, "kafka:\n  lookback: -1s\nshutdown_timeout: -1s\n"), noEnv, nil)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, key := range []string{"kafka.lookback", "shutdown_timeout"} {
		if n := strings.Count(err.Error(), key+":"); n != 1 {
			t.Errorf("%s reported %d times: %v", key, n, err)
		}
	}
	var fe *feed.FieldError
	if errors.As(err, &fe) {
		t.Errorf("the consumer's error is repeated: %v", fe)
	}
}

// The libraries' field errors, one type, are told apart by their
// sentinels: errors of the server, the consumer, the hub and the
// transport at once each reach their own key, once.
func TestLibraryErrorsByTheirSentinel(t *testing.T) {
	file := "listen: nowhere\nkafka:\n  start: middle\nwebsocket:\n  max_subscriptions: -1\n  max_queue_bytes: 100\n"
	_, err := Resolve(writeFile(t, file), noEnv, nil)
	want := map[string]error{
		"listen": server.ErrConfig, "kafka.start": feed.ErrConfig,
		"websocket.max_subscriptions": fanout.ErrConfig, "websocket.max_queue_bytes": wsconn.ErrConfig,
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("%v, want joined errors", err)
	}
	seen := map[string]int{}
	for _, e := range j.Unwrap() {
		var ke *KeyError
		if !errors.As(e, &ke) {
			t.Fatalf("%v is no *KeyError", e)
		}
		seen[ke.Key]++
		if is, ok := want[ke.Key]; !ok || !errors.Is(e, is) {
			t.Errorf("%v: unexpected, or not wrapping %v", e, is)
		}
	}
	for key := range want {
		if seen[key] != 1 {
			t.Errorf("%s reported %d times: %v", key, seen[key], err)
		}
	}
}
