package server_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/server"
)

// Validate checks the server's own fields and the consumer's
// configuration, naming each field.
func TestConfigValidate(t *testing.T) {
	ok := server.Config{Feed: feed.Config{Brokers: []string{"127.0.0.1:9092"}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	// Two listeners on free ports are two listeners.
	free := ok
	free.Listen, free.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	if err := free.Validate(); err != nil {
		t.Fatalf("port 0 twice: %v", err)
	}
	tests := []struct {
		mut   func(*server.Config)
		field string
		is    error
	}{
		{func(c *server.Config) { c.Listen = "nowhere" }, "Listen", server.ErrConfig},
		{func(c *server.Config) { c.AdminListen = "nowhere" }, "AdminListen", server.ErrConfig},
		{func(c *server.Config) { c.Listen, c.AdminListen = ":9000", ":9000" }, "AdminListen", server.ErrConfig},
		{func(c *server.Config) { c.TLSCertFile = "c.pem" }, "TLSCertFile", server.ErrConfig},
		{func(c *server.Config) { c.ShutdownTimeout = -1 }, "ShutdownTimeout", server.ErrConfig},
		{func(c *server.Config) { c.PublicHosts = []string{"https://feed.example.com"} }, "PublicHosts", auth.ErrPublicHost},
		{func(c *server.Config) { c.Feed.Start = "middle" }, "Start", feed.ErrConfig},
	}
	for _, tt := range tests {
		c := ok
		tt.mut(&c)
		err := c.Validate()
		if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.field+": ") {
			t.Errorf("%s: %v, want an error naming it and wrapping %v", tt.field, err, tt.is)
		}
	}
}
