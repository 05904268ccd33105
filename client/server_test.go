package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
)

// liveServer runs the real server over an embedded broker holding the
// boot records of a one-symbol market, with cfg's keys settings, and
// returns its WebSocket URL and the symbol.
func liveServer(t *testing.T, cfg server.Config) (url, symbol string) {
	t.Helper()
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cfg.Listen = "127.0.0.1:0"
	cfg.Feed = feed.Config{Brokers: b.Addrs(), Topic: b.Topic(), Start: feed.StartEarliest}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	ex := sim.New(sim.Config{Symbols: 1, Seed: 5})
	var km []kafka.Message
	for _, m := range ex.Snapshots(time.Now(), nil) {
		km = append(km, kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time})
	}
	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), Topic: b.Topic(), BatchTimeout: 2 * time.Millisecond}
	defer w.Close()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := w.WriteMessages(wctx, km...); err != nil {
		t.Fatal(err)
	}
	// Subscribing before the server has read the snapshots would be
	// refused as unknown_symbol: wait for the book to be live.
	sym := ex.Symbols()[0]
	for deadline := time.Now().Add(30 * time.Second); ; {
		if srv.Hub().Streams(sym) != nil {
			if st, _ := srv.Hub().Streams(sym).State(); st == market.Live {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not live after 30s", sym)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return "ws://" + srv.Addr() + "/ws", sym
}

func dialLive(t *testing.T, url string) *client.Conn {
	t.Helper()
	c, err := client.Dial(context.Background(), url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// nextOf returns the next message that is not a market-data message of
// another type than want, failing after 10 s.
func nextOf(t *testing.T, c *client.Conn, want string) *schemas.ServerMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		switch {
		case m.Type == want:
			return m
		case m.Type == schemas.TypeError:
			t.Fatalf("waiting for %s: error %+v", want, m)
		}
	}
}

// TestEveryCommandOnServer sends every op and option of the protocol to the
// real server and checks its answers.
func TestEveryCommandOnServer(t *testing.T) {
	url, sym := liveServer(t, server.Config{})
	book, ticker := "book."+sym, "ticker."+sym
	c := dialLive(t, url)

	// The book is served once the feed has read the boot records.
	if err := c.Subscribe(1, []string{book}, 5, "raw"); err != nil {
		t.Fatal(err)
	}
	if m := nextOf(t, c, schemas.TypeSubscribed); m.ID != 1 || m.Channel != book || m.Depth != 5 || m.Interval != "raw" {
		t.Fatalf("subscribed: %+v", m)
	}
	for {
		m := nextOf(t, c, schemas.TypeSnapshot)
		if m.Channel == book && len(m.Bids) == 5 {
			break
		}
	}
	if err := c.Unsubscribe(2, []string{book}); err != nil {
		t.Fatal(err)
	}
	if m := nextOf(t, c, schemas.TypeUnsubscribed); m.ID != 2 || m.Channel != book {
		t.Fatalf("unsubscribed: %+v", m)
	}

	// Several channels with every option, the lag policy included.
	opt := client.SubscribeOptions{Depth: 10, Interval: "100ms", Lag: schemas.LagEvict}
	if err := c.SubscribeWith(3, []string{book, ticker}, opt); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []string{book, ticker} {
		m := nextOf(t, c, schemas.TypeSubscribed)
		if m.ID != 3 || m.Channel != ch || m.Interval != "100ms" || (ch == book && m.Depth != 10) {
			t.Fatalf("subscribed %s: %+v", ch, m)
		}
	}
	if err := c.List(4); err != nil {
		t.Fatal(err)
	}
	if m := nextOf(t, c, schemas.TypeSubscriptions); m.ID != 4 || len(m.Subscriptions) != 2 {
		t.Fatalf("subscriptions: %+v", m)
	}
	if err := c.Resync(5, []string{book}); err != nil {
		t.Fatal(err)
	}
	if m := nextOf(t, c, schemas.TypeSnapshot); m.Channel != book || len(m.Bids) != 10 {
		t.Fatalf("resync answer: %+v", m)
	}
	if err := c.Ping(6); err != nil {
		t.Fatal(err)
	}
	if m := nextOf(t, c, schemas.TypePong); m.ID != 6 {
		t.Fatalf("pong: %+v", m)
	}

	// The server reads the lag field: a value it does not know is refused.
	if err := c.SubscribeWith(7, []string{"trades." + sym}, client.SubscribeOptions{Lag: "sometimes"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == schemas.TypeError {
			if m.ID != 7 || m.Code != schemas.CodeInvalidRequest {
				t.Fatalf("bad lag: %+v", m)
			}
			break
		}
		if m.Type == schemas.TypeSubscribed {
			t.Fatalf("bad lag accepted: %+v", m)
		}
	}
}

// TestAuthOnServer presents keys with Auth on connections opened without
// one: a good key lifts the anonymous plan's limit, a bad one is refused
// with 4003, an empty one is not sent.
func TestAuthOnServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := auth.WriteFile(path, &auth.File{Anonymous: "free", Plans: map[string]*auth.Plan{
		"free": {Symbols: []string{"*"}, MaxDepth: 20},
		"pro":  {Symbols: []string{"*"}},
	}}); err != nil {
		t.Fatal(err)
	}
	secret, err := auth.CreateKey(path, "alice", "pro", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	url, sym := liveServer(t, server.Config{Keys: path, KeysPoll: time.Hour})

	c := dialLive(t, url)
	if err := c.Auth(1, ""); !errors.Is(err, client.ErrNoKey) {
		t.Fatalf("Auth(empty) = %v, want ErrNoKey", err)
	}
	if err := c.Auth(1, secret); err != nil {
		t.Fatal(err)
	}
	if m := nextOf(t, c, schemas.TypeAuthenticated); m.ID != 1 {
		t.Fatalf("authenticated: %+v", m)
	}
	if err := c.Subscribe(2, []string{"book." + sym}, 100, ""); err != nil {
		t.Fatal(err)
	}
	if m := nextOf(t, c, schemas.TypeSubscribed); m.ID != 2 || m.Depth != 100 {
		t.Fatalf("keyed depth 100: %+v", m)
	}

	anon := dialLive(t, url)
	if err := anon.Subscribe(1, []string{"book." + sym}, 100, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if m, err := anon.Next(ctx); err != nil || m.Code != schemas.CodeNotEntitled {
		t.Fatalf("anonymous depth 100: %+v, %v", m, err)
	}

	bad := dialLive(t, url)
	if err := bad.Auth(3, "mfk_notakeynotakeynotakeynotakey0"); err != nil {
		t.Fatal(err)
	}
	var ce *client.CloseError
	for {
		m, err := bad.Next(ctx)
		if errors.As(err, &ce) {
			break
		}
		if err != nil {
			t.Fatalf("bad key: %v, want a close", err)
		}
		if m.Type == schemas.TypeAuthenticated {
			t.Fatalf("bad key accepted: %+v", m)
		}
	}
	if ce.Code != schemas.CloseUnauthorized {
		t.Fatalf("bad key: close %d, want %d", ce.Code, schemas.CloseUnauthorized)
	}
}

// TestStreamBBOOnServer subscribes a Stream to a symbol's bbo and depth-1
// book on the real server: the bbo event carries the verified book's top.
func TestStreamBBOOnServer(t *testing.T) {
	url, sym := liveServer(t, server.Config{})
	st, err := client.NewStream(client.StreamConfig{URL: url, Subscriptions: []client.Subscription{
		{Channel: "book." + sym, Depth: 1}, {Channel: "bbo." + sym}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var top [4]string
	var seq uint64
	errDone := errors.New("done")
	err = st.Run(ctx, func(ev *client.Event) error {
		switch ev.Kind {
		case client.EventBook:
			if ev.Book.Synced() {
				bp, bs, _ := ev.Book.BestBid()
				ap, as, _ := ev.Book.BestAsk()
				top, seq = [4]string{bp, bs, ap, as}, ev.Book.Seq()
			}
		case client.EventBBO:
			m := ev.Msg
			if ev.Channel != "bbo."+sym || m.Seq == 0 || m.Bid == "" || m.Ask == "" {
				return fmt.Errorf("bbo event %+v", m)
			}
			if m.Seq == seq {
				if got := [4]string{m.Bid, m.BidSize, m.Ask, m.AskSize}; got != top {
					return fmt.Errorf("bbo %v at seq %d, the book's top %v", got, seq, top)
				}
				return errDone
			}
		case client.EventStatus, client.EventError, client.EventRefused:
			t.Logf("%s %+v", ev.Kind, ev.Msg)
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("Run: %v", err)
	}
}
