package wsconn

import (
	"errors"
	"testing"
	"time"
)

// Validate reports each invalid field once, as a *FieldError wrapping
// ErrConfig, with zero fields taking their defaults and QueueFrames
// checked once rounded up.
func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	for _, ok := range []Config{
		{MaxMessageSize: MinMessageSize, MaxQueueBytes: MinQueueBytes, QueueFrames: MaxQueueFrames},
		{QueueFrames: MinQueueFrames/2 + 1}, // rounds up to MinQueueFrames
		{PingInterval: time.Second, IdleTimeout: time.Second + 1},
		{SocketNotSentLowat: -1, MaxLifetime: time.Second},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	tests := []struct {
		cfg   Config
		field string
	}{
		{Config{MaxMessageSize: MinMessageSize - 1}, "MaxMessageSize"},
		{Config{MaxMessageSize: -1}, "MaxMessageSize"},
		{Config{PingInterval: -time.Second}, "PingInterval"},
		{Config{IdleTimeout: -time.Second}, "IdleTimeout"},
		{Config{PingInterval: time.Minute, IdleTimeout: time.Minute}, "IdleTimeout"},
		{Config{PingInterval: 2 * DefaultIdleTimeout}, "IdleTimeout"},
		{Config{MaxQueueAge: -1}, "MaxQueueAge"},
		{Config{WriteTimeout: -1}, "WriteTimeout"},
		{Config{CloseLinger: -1}, "CloseLinger"},
		{Config{MaxLifetime: -1}, "MaxLifetime"},
		{Config{LifetimeNotice: -1}, "LifetimeNotice"},
		{Config{MaxQueueBytes: MinQueueBytes - 1}, "MaxQueueBytes"},
		{Config{SocketSendBuffer: -1}, "SocketSendBuffer"},
		{Config{QueueFrames: MinQueueFrames / 2}, "QueueFrames"},
		{Config{QueueFrames: -1}, "QueueFrames"},
		{Config{QueueFrames: MaxQueueFrames + 1}, "QueueFrames"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		var fe *FieldError
		if !errors.Is(err, ErrConfig) || !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%+v: %v, want a *FieldError of %s", tt.cfg, err, tt.field)
			continue
		}
		if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 1 {
			t.Errorf("%+v: %d errors: %v", tt.cfg, n, err)
		}
		if err.Error() != "wsconn: invalid config: "+tt.field+": "+fe.Reason || fe.Reason == "" {
			t.Errorf("message %q", err)
		}
		if _, err := New(tt.cfg, testMetrics(), nil); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: New: %v", tt.cfg, err)
		}
	}
	// Every invalid field at once: one error each.
	all := Config{MaxMessageSize: 1, PingInterval: -1, MaxQueueBytes: 1, QueueFrames: 1}
	err := all.Validate()
	fields := map[string]bool{}
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *FieldError
		if errors.As(e, &fe) {
			fields[fe.Field] = true
		}
	}
	for _, f := range []string{"MaxMessageSize", "PingInterval", "MaxQueueBytes", "QueueFrames"} {
		if !fields[f] {
			t.Errorf("%s not reported: %v", f, err)
		}
	}
}
