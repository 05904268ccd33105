package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"sort"
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

// tickersMsg is a tickers message as a client decodes it.
type tickersMsg struct {
	Type    string            `json:"type"`
	Channel string            `json:"channel"`
	TS      int64             `json:"ts"`
	Tickers []json.RawMessage `json:"tickers"`
}

// symbols returns the channels' symbols of the message's tickers, in order.
func (m *tickersMsg) symbols(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, raw := range m.Tickers {
		var tk schemas.ServerMessage
		if err := json.Unmarshal(raw, &tk); err != nil || tk.Type != schemas.TypeTicker {
			t.Fatalf("tickers element %s: %v", raw, err)
		}
		out = append(out, tk.Channel[len("ticker."):])
	}
	return out
}

// nextTickers reads c's next tickers message, failing on anything else.
func nextTickers(ctx context.Context, t *testing.T, c *client.Conn) *tickersMsg {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	raw, err := c.NextRaw(rctx)
	if err != nil {
		t.Fatal(err)
	}
	var m tickersMsg
	if err := json.Unmarshal(raw, &m); err != nil || m.Type != schemas.TypeTickers || m.Channel != "tickers" {
		t.Fatalf("want a tickers message, got %s (%v)", raw, err)
	}
	return &m
}

// TestTickersEntitled runs the server with a key file over a real broker:
// the tickers channel carries exactly the symbols each plan allows, at
// 100ms and at its 1s default, and each symbol's ticker in it is the
// symbol's own ticker message.
func TestTickersEntitled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, syms, narrow, path, secret := startTickersServer(ctx, t)

	url := "ws://" + srv.Addr() + "/ws"
	anon, err := client.Dial(ctx, url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	keyed, err := client.Dial(ctx, url, client.Options{Header: http.Header{"Authorization": {"Bearer " + secret}}})
	if err != nil {
		t.Fatal(err)
	}
	defer keyed.Close()
	subscribeOK(ctx, t, anon, "tickers", "100ms", "100ms")
	subscribeOK(ctx, t, keyed, "tickers", "", "1s")

	// The feed is quiet once three successive messages are equal.
	var last *tickersMsg
	for same := 0; same < 3; {
		m := nextTickers(ctx, t, anon)
		if last != nil && reflect.DeepEqual(m.Tickers, last.Tickers) {
			same++
		} else {
			same = 0
		}
		last = m
	}
	if got := last.symbols(t); !reflect.DeepEqual(got, syms) {
		t.Fatalf("anonymous tickers hold %v, want %v", got, syms)
	}
	start := time.Now()
	kmsg := nextTickers(ctx, t, keyed)
	if got := kmsg.symbols(t); !reflect.DeepEqual(got, narrow) {
		t.Fatalf("keyed tickers hold %v, want %v", got, narrow)
	}
	// 1s against 100ms: while the keyed connection gets two more
	// messages, the anonymous one gets many.
	nextTickers(ctx, t, keyed)
	nextTickers(ctx, t, keyed)
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Fatalf("three 1s tickers messages in %v", d)
	}
	n := 0
	for drain := true; drain; {
		dctx, dcancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err := anon.NextRaw(dctx)
		dcancel()
		if err != nil {
			drain = false
		} else {
			n++
		}
	}
	if n < 8 {
		t.Fatalf("%d 100ms tickers messages in %v", n, time.Since(start))
	}
	for i, sym := range syms {
		own := tickerOf(ctx, t, url, sym)
		if !bytes.Equal(own, last.Tickers[i]) {
			t.Errorf("%s: tickers holds %s, its ticker channel %s", sym, last.Tickers[i], own)
		}
	}
	for i, sym := range narrow {
		if !bytes.Equal(kmsg.Tickers[i], last.Tickers[sort.SearchStrings(syms, sym)]) {
			t.Errorf("%s: keyed tickers holds %s, anonymous %s", sym, kmsg.Tickers[i], last.Tickers[sort.SearchStrings(syms, sym)])
		}
	}

	streamTickers(t, url, secret, narrow)

	narrowPlan(ctx, t, srv, path, keyed, narrow, syms[3])
}

// startTickersServer runs a server over a real broker of three partitions
// (so the symbols have different owners) with four symbols served and a
// key file: the anonymous plan sees every symbol, the key
// secret only the symbols narrow.
func startTickersServer(ctx context.Context, t *testing.T) (srv *server.Server, syms, narrow []string, path, secret string) {
	t.Helper()
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ex := sim.New(sim.Config{Symbols: 4, Seed: 11, TradeRatio: 0.5})
	syms = ex.Symbols()
	sort.Strings(syms)
	narrow = []string{syms[1], syms[3]}
	path = filepath.Join(t.TempDir(), "keys.json")
	if err := auth.WriteFile(path, &auth.File{Anonymous: "free", Plans: map[string]*auth.Plan{
		"free":   {Symbols: []string{"*"}},
		"narrow": {Symbols: narrow, Channels: []string{"tickers", "ticker"}},
	}}); err != nil {
		t.Fatal(err)
	}
	secret, err = auth.CreateKey(path, "bob", "narrow", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ = runServer(t, server.Config{
		Feed:     feed.Config{Brokers: b.Addrs(), Topic: "marketdata", Start: feed.StartEarliest},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Keys:     path,
		KeysPoll: time.Hour,
	})
	now := time.Now()
	msgs := ex.Snapshots(now, nil)
	for i := 0; i < 40; i++ {
		msgs = ex.Next(now.Add(time.Duration(i)*time.Millisecond), msgs)
	}
	km := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		km[i] = kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time}
	}
	w := newWriter(b) // keyed: a symbol's records stay on its partition
	t.Cleanup(func() { w.Close() })
	if err := w.WriteMessages(ctx, km...); err != nil {
		t.Fatal(err)
	}
	waitLive(t, srv, syms)
	return srv, syms, narrow, path, secret
}

// narrowPlan narrows the keyed plan to sym in the key file and checks
// that keyed's tickers follow.
func narrowPlan(ctx context.Context, t *testing.T, srv *server.Server, path string, keyed *client.Conn, narrow []string, sym string) {
	t.Helper()
	f, err := auth.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Plans["narrow"].Symbols = []string{sym}
	if err := auth.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	if err := srv.ReloadKeys(); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		got := nextTickers(ctx, t, keyed).symbols(t)
		if reflect.DeepEqual(got, []string{sym}) {
			break
		}
		if i == 2 || !reflect.DeepEqual(got, narrow) {
			t.Fatalf("keyed tickers after the plan changed hold %v", got)
		}
	}
}

// waitLive waits until every symbol's book is served.
func waitLive(t *testing.T, srv *server.Server, syms []string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		live := 0
		for _, sym := range syms {
			if tp := srv.Hub().Streams(sym); tp != nil {
				if st, _ := tp.State(); st == market.Live {
					live++
				}
			}
		}
		if live == len(syms) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d symbols served: %+v", live, len(syms), srv.Hub().Symbols())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// subscribeOK subscribes c to channel at interval and checks the ack's
// interval.
func subscribeOK(ctx context.Context, t *testing.T, c *client.Conn, channel, interval, want string) {
	t.Helper()
	if err := c.Subscribe(1, []string{channel}, 0, interval); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := c.Next(rctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != schemas.TypeSubscribed || m.Channel != channel || m.Interval != want {
		t.Fatalf("subscribe %s %q: %+v", channel, interval, m)
	}
}

// tickerOf returns the first ticker message of sym's ticker channel.
func tickerOf(ctx context.Context, t *testing.T, url, sym string) []byte {
	t.Helper()
	c, err := client.Dial(ctx, url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	subscribeOK(ctx, t, c, "ticker."+sym, "", "100ms")
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	raw, err := c.NextRaw(rctx)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// streamTickers checks that a client.Stream with key delivers the tickers
// channel as EventTickers holding the want symbols.
func streamTickers(t *testing.T, url, key string, want []string) {
	t.Helper()
	st, err := client.NewStream(client.StreamConfig{URL: url, APIKey: key,
		Subscriptions: []client.Subscription{{Channel: "tickers", Interval: "100ms"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errDone := errors.New("done")
	var got []string
	err = st.Run(ctx, func(ev *client.Event) error {
		if ev.Kind != client.EventTickers {
			return nil
		}
		for _, tk := range ev.Msg.Tickers {
			got = append(got, tk.Channel[len("ticker."):])
		}
		return errDone
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("stream: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("EventTickers holds %v, want %v", got, want)
	}
}
