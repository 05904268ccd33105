package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
	"github.com/segmentio/kafka-go"
)

// TestServerWithKeys runs the server with a key file over a real broker:
// the anonymous plan is narrow, a key widens it, a revocation applied with
// ReloadKeys (what SIGHUP does) closes the key's connection, and the
// denials show in /metrics.
func TestServerWithKeys(t *testing.T) {
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := auth.WriteFile(path, &auth.File{Anonymous: "free", Plans: map[string]*auth.Plan{
		"free": {Symbols: []string{"*"}, MaxDepth: 20, MinInterval: "100ms"},
		"pro":  {Symbols: []string{"*"}},
	}}); err != nil {
		t.Fatal(err)
	}
	secret, err := auth.CreateKey(path, "alice", "pro", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Listen:   "127.0.0.1:0",
		Feed:     feed.Config{Brokers: b.Addrs(), Topic: "marketdata", Start: feed.StartEarliest},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Keys:     path,
		KeysPoll: time.Hour, // only ReloadKeys applies changes here
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	ex := sim.New(sim.Config{Symbols: 1, Seed: 3})
	sym := ex.Symbols()[0]
	boot := ex.Snapshots(time.Now(), nil)
	km := make([]kafka.Message, len(boot))
	for i, m := range boot {
		km[i] = kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time}
	}
	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), Topic: "marketdata", BatchTimeout: 2 * time.Millisecond}
	t.Cleanup(func() { w.Close() })
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := w.WriteMessages(wctx, km...); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		if tp := srv.Hub().Streams(sym); tp != nil {
			if st, _ := tp.State(); st == market.Live {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not served", sym)
		}
		time.Sleep(10 * time.Millisecond)
	}
	url := "ws://" + srv.Addr() + "/ws"
	next := func(c *client.Conn) *schemas.ServerMessage {
		t.Helper()
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		defer rcancel()
		m, err := c.Next(rctx)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	channel := []string{"book." + sym}

	anon, err := client.Dial(ctx, url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	_ = anon.Subscribe(1, channel, 100, "raw")
	if m := next(anon); m.Code != schemas.CodeNotEntitled {
		t.Fatalf("anonymous depth 100: %+v", m)
	}

	keyed, err := client.Dial(ctx, url, client.Options{Header: http.Header{"Authorization": {"Bearer " + secret}}})
	if err != nil {
		t.Fatal(err)
	}
	defer keyed.Close()
	_ = keyed.Subscribe(1, channel, 100, "raw")
	if m := next(keyed); m.Type != schemas.TypeSubscribed {
		t.Fatalf("keyed depth 100: %+v", m)
	}

	if err := auth.RevokeKey(path, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := srv.ReloadKeys(); err != nil {
		t.Fatal(err)
	}
	for {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := keyed.Next(rctx)
		rcancel()
		if err != nil {
			var ce *client.CloseError
			if !errors.As(err, &ce) || ce.Code != schemas.CloseUnauthorized {
				t.Fatalf("after revocation: %v, want close %d", err, schemas.CloseUnauthorized)
			}
			break
		}
		if m.Type == schemas.TypeError && m.Code != schemas.CodeUnauthorized {
			t.Fatalf("after revocation: %+v", m)
		}
	}
	if got := metric(t, srv.Addr(), `marketfeed_auth_denials_total{reason="depth"}`); got != 1 {
		t.Fatalf("depth denials in /metrics: %v, want 1", got)
	}
}
