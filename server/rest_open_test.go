package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
	"github.com/segmentio/kafka-go"
)

// TestRESTWithoutKeys: a server without a key file serves every symbol at
// every depth to everybody, rate-limited per client address.
func TestRESTWithoutKeys(t *testing.T) {
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	srv, _ := runServer(t, server.Config{
		Feed:      feed.Config{Brokers: b.Addrs(), Topic: "marketdata", Start: feed.StartEarliest},
		RESTBurst: 2,
		RESTEvery: time.Hour,
	})
	ex := sim.New(sim.Config{Symbols: 1, Seed: 11})
	sym := ex.Symbols()[0]
	var km []kafka.Message
	for _, m := range ex.Snapshots(time.Now(), nil) {
		km = append(km, kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time})
	}
	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), Topic: "marketdata", BatchTimeout: 2 * time.Millisecond}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, km...); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if tp := srv.Hub().Streams(sym); tp != nil {
			if st, _ := tp.State(); st == market.Live {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not served", sym)
		}
	}
	f := &restFixture{srv: srv, base: "http://" + srv.Addr()}
	book := f.do(t, "GET", "/v1/book/"+sym+"?depth=1000", "")
	book.want(t, http.StatusOK, "")
	if ws := wsFirst(t, f, "", "book."+sym, 1000); !bytes.Equal(book.body, ws) {
		t.Fatalf("REST %s\nWS   %s", book.body, ws)
	}
	in := f.do(t, "GET", "/v1/instruments", "")
	in.want(t, http.StatusOK, "")
	var list struct{ Instruments []struct{ Symbol string } }
	if err := json.Unmarshal(in.body, &list); err != nil || len(list.Instruments) != 1 || list.Instruments[0].Symbol != sym {
		t.Fatalf("instruments %s (%v)", in.body, err)
	}
	f.do(t, "GET", "/v1/ticker/"+sym, "").want(t, http.StatusTooManyRequests, schemas.CodeRateLimited)
}
