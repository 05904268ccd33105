package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
)

// tradingServer runs the real server over an embedded broker holding a
// one-symbol market with trades (sim), and returns it with the symbol
// once its book is live and every record applied.
func tradingServer(t *testing.T) (*server.Server, string) {
	t.Helper()
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	srv, err := server.New(server.Config{Listen: "127.0.0.1:0", SilentAfter: -1,
		Feed:   feed.Config{Brokers: b.Addrs(), Topic: b.Topic(), Start: feed.StartEarliest},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	ex := sim.New(sim.Config{Symbols: 1, Seed: 9})
	now := time.Now()
	msgs := ex.Snapshots(now, nil)
	for range 200 {
		msgs = ex.Next(now, msgs)
	}
	km := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		km[i] = kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time}
	}
	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), Topic: b.Topic(), BatchTimeout: 2 * time.Millisecond}
	defer w.Close()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := w.WriteMessages(wctx, km...); err != nil {
		t.Fatal(err)
	}
	sym := ex.Symbols()[0]
	var last struct{ Seq uint64 }
	for i := len(msgs) - 1; i >= 0; i-- {
		if bytes.Contains(msgs[i].Value, []byte(`"type":"delta"`)) {
			_ = json.Unmarshal(msgs[i].Value, &last)
			break
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if st := srv.Hub().Streams(sym); st != nil {
			if state, seq := st.State(); state == market.Live && seq == last.Seq {
				return srv, sym
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not at seq %d after 30s", sym, last.Seq)
		}
	}
}

// The REST helpers read the real server: the book as a verified Book at
// the stream's seq, the ticker, the definitions, the recent trades (each
// as the stream sends it, and a position the stream resumes from), and
// the server's errors as RESTError.
func TestRESTHelpers(t *testing.T) {
	srv, sym := tradingServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := &client.REST{Base: "http://" + srv.Addr()}

	b, err := r.Book(ctx, sym, 5)
	if err != nil {
		t.Fatal(err)
	}
	view, err := srv.Hub().Streams(sym).Book(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	var snap schemas.ServerMessage
	if err := json.Unmarshal(view.Message, &snap); err != nil {
		t.Fatal(err)
	}
	if !b.Synced() || b.Seq() != view.Seq || len(b.Bids()) != 5 || b.Checksum() != *snap.Checksum {
		t.Fatalf("book: synced %v seq %d (server %d), %d bids", b.Synced(), b.Seq(), view.Seq, len(b.Bids()))
	}
	if tk, err := r.Ticker(ctx, sym); err != nil || tk.Channel != "ticker."+sym || tk.Last == "" {
		t.Fatalf("ticker %+v (%v)", tk, err)
	}
	ins, err := r.Instruments(ctx)
	if err != nil || len(ins) != 1 || ins[0].Symbol != sym || ins[0].TickSize == "" {
		t.Fatalf("instruments %+v (%v)", ins, err)
	}

	all, err := r.Trades(ctx, sym, client.TradesQuery{Limit: 1000})
	if err != nil || len(all) < 4 {
		t.Fatalf("trades: %d (%v)", len(all), err)
	}
	held, err := srv.Hub().Streams(sym).Trades(ctx, fanout.TradesQuery{Limit: 1000})
	if err != nil || len(held.Trades) != len(all) || held.Trades[0].ID != all[0].ID {
		t.Fatalf("REST trades differ from the history: %d vs %d", len(all), len(held.Trades))
	}
	page, err := r.Trades(ctx, sym, client.TradesQuery{SinceID: all[1].ID, SinceTS: all[1].TS, Limit: 2})
	if err != nil || len(page) != 2 || page[0] != all[2] || page[1] != all[3] {
		t.Fatalf("page after %s: %+v (%v)", all[1].ID, page, err)
	}
	// The stream resumed from the REST position sends the rest.
	c, err := client.Dial(ctx, "ws://"+srv.Addr()+"/ws", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch := "trades." + sym
	k := len(all) - 3
	if err := c.SubscribeWith(1, []string{ch}, client.SubscribeOptions{Resume: []schemas.Resume{client.ResumeAfter(ch, all[k])}}); err != nil {
		t.Fatal(err)
	}
	if ack, err := c.Next(ctx); err != nil || ack.Resumed == nil || !*ack.Resumed {
		t.Fatalf("ack %+v (%v)", ack, err)
	}
	for _, want := range all[k+1:] {
		m, err := c.Next(ctx)
		if err != nil || len(m.Trades) != 1 || m.Trades[0] != want {
			t.Fatalf("resumed trade %+v, want %+v (%v)", m, want, err)
		}
	}

	var re *client.RESTError
	if _, err := r.Book(ctx, "NOPE-USD", 0); !errors.As(err, &re) || re.HTTPStatus != http.StatusNotFound || re.Code != schemas.CodeUnknownSymbol {
		t.Fatalf("unknown symbol: %v", err)
	}
	if _, err := r.Trades(ctx, sym, client.TradesQuery{Limit: 5000}); !errors.As(err, &re) || re.HTTPStatus != http.StatusBadRequest || re.Code != schemas.CodeInvalidRequest {
		t.Fatalf("bad limit: %v", err)
	}
	if _, err := r.Book(ctx, sym, 7); !errors.As(err, &re) || re.Code != schemas.CodeInvalidDepth {
		t.Fatalf("bad depth: %v", err)
	}
}
