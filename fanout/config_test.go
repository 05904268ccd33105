package fanout_test

import (
	"errors"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
)

// The zero Config takes the session's and the transport's named
// defaults, and Validate refuses what either part refuses.
func TestConfigDefaultsAndValidation(t *testing.T) {
	c := fanout.Config{}.WithDefaults()
	if c.MaxSubscriptions != fanout.DefaultMaxSubscriptions || c.MaxMessagesPerSecond != fanout.DefaultMaxMessagesPerSecond ||
		c.MaxInvalidMessages != fanout.DefaultMaxInvalidMessages || c.Transport.PingInterval != wsconn.DefaultPingInterval ||
		c.Transport.IdleTimeout != wsconn.DefaultIdleTimeout || c.Transport.MaxQueueBytes != wsconn.DefaultMaxQueueBytes ||
		c.Transport.QueueFrames != wsconn.DefaultQueueFrames || c.Transport.CloseLinger != wsconn.DefaultCloseLinger || c.Logger == nil {
		t.Fatalf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := (fanout.Config{Transport: wsconn.Config{QueueFrames: 100}}).WithDefaults().Transport.QueueFrames; got != 128 {
		t.Fatalf("QueueFrames 100 rounds to %d, want 128", got)
	}
	for name, bad := range map[string]fanout.Config{
		"idle not above ping": {Transport: wsconn.Config{PingInterval: time.Minute, IdleTimeout: time.Minute}},
		"tiny messages":       {Transport: wsconn.Config{MaxMessageSize: 10}},
		"tiny queue":          {Transport: wsconn.Config{MaxQueueBytes: 100}},
		"negative conns":      {MaxConnections: -1},
		"negative subs":       {MaxSubscriptions: -1},
	} {
		if err := bad.WithDefaults().Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := fanout.NewHub(bad, nil); err == nil {
			t.Errorf("%s: NewHub accepted it", name)
		}
	}
}

// Validate names every invalid field, each a *fanout.FieldError wrapping
// fanout.ErrConfig, and those of the transport wrap the transport's
// *wsconn.FieldError as well; a zero field is its default, not an error.
func TestConfigValidateEveryField(t *testing.T) {
	if err := (fanout.Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	bad := fanout.Config{
		Transport: wsconn.Config{
			MaxMessageSize:   10,
			PingInterval:     time.Minute,
			IdleTimeout:      time.Minute,
			MaxQueueBytes:    100,
			QueueFrames:      1<<20 + 1,
			SocketSendBuffer: -1,
			MaxLifetime:      -time.Second,
		},
		MaxConnections:     -1,
		MaxSubscriptions:   -1,
		MaxInvalidMessages: -3,
	}
	transport := map[string]bool{
		"Transport.MaxMessageSize": true, "Transport.IdleTimeout": true, "Transport.MaxQueueBytes": true,
		"Transport.QueueFrames": true, "Transport.SocketSendBuffer": true, "Transport.MaxLifetime": true,
		"MaxConnections": false, "MaxSubscriptions": false, "MaxInvalidMessages": false,
	}
	err := bad.Validate()
	if !errors.Is(err, fanout.ErrConfig) {
		t.Fatalf("%v does not wrap fanout.ErrConfig", err)
	}
	seen := map[string]int{}
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *fanout.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is no *fanout.FieldError", e)
		}
		seen[fe.Field]++
		var we *wsconn.FieldError
		isTransport := errors.As(fe.Err, &we) // one error type: the transport's is the wrapped one
		if isTransport != transport[fe.Field] || (isTransport && ("Transport."+we.Field != fe.Field || we.Reason != fe.Reason || !errors.Is(e, wsconn.ErrConfig))) {
			t.Errorf("%s: transport error %v, want one: %v", fe.Field, we, transport[fe.Field])
		}
		if e.Error() != "fanout: invalid config: "+fe.Field+": "+fe.Reason {
			t.Errorf("message %q", e.Error())
		}
	}
	for field := range transport {
		if seen[field] != 1 {
			t.Errorf("%s reported %d times in %v", field, seen[field], err)
		}
	}
	if len(seen) != len(transport) {
		t.Errorf("fields %v, want %v", seen, transport)
	}
	if _, err := fanout.NewHub(bad, nil); !errors.Is(err, fanout.ErrConfig) {
		t.Errorf("NewHub: %v", err)
	}
}
