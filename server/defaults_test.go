package server_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
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
		{func(c *server.Config) { c.WS.MaxSubscriptions = -1 }, "MaxSubscriptions", fanout.ErrConfig},
		{func(c *server.Config) { c.WS.Transport.MaxMessageSize = 10 }, "MaxMessageSize", wsconn.ErrConfig},
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

// New refuses a configuration Validate refuses, with Validate's errors,
// before it binds anything.
func TestNewRefusesAnInvalidConfig(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := server.Config{Listen: addr, Feed: feed.Config{Brokers: []string{"127.0.0.1:9092"}}}
	cfg.ShutdownTimeout = -1
	cfg.WS.Transport.PingInterval, cfg.WS.Transport.IdleTimeout = time.Minute, time.Second
	srv, err := server.New(cfg)
	if srv != nil || !errors.Is(err, server.ErrConfig) || !errors.Is(err, fanout.ErrConfig) ||
		!strings.Contains(err.Error(), "ShutdownTimeout: ") || !strings.Contains(err.Error(), "IdleTimeout: ") {
		t.Fatalf("New: %v, want the errors of Validate", err)
	}
	// Nothing was bound: the address is free.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("New bound %s: %v", addr, err)
	}
	ln.Close()
}
