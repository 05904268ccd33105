package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
)

func TestCandlesApply(t *testing.T) {
	c := client.NewCandles("candles.X")
	up := &schemas.ServerMessage{Type: schemas.TypeCandles, Channel: "candles.X", Resolution: "1m",
		Candles: []schemas.CandleMessage{{Start: 60, Close: "2", Count: 1}}}
	if err := c.Apply(up); !errors.Is(err, client.ErrCandlesNotSynced) {
		t.Fatalf("update before the snapshot: %v", err)
	}
	snap := &schemas.ServerMessage{Type: schemas.TypeCandles, Channel: "candles.X", Resolution: "1m", Snapshot: true, WindowStart: 5,
		Candles: []schemas.CandleMessage{{Start: 0, Close: "1", Count: 3, Final: true}, {Start: 120, Close: "3", Count: 1}}}
	if err := c.Apply(snap); err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(up); err != nil { // inserted between the two
		t.Fatal(err)
	}
	up.Candles = []schemas.CandleMessage{{Start: 120, Close: "4", Count: 2}}
	if err := c.Apply(up); err != nil { // replaces the last
		t.Fatal(err)
	}
	got := c.List()
	if len(got) != 3 || got[0].Start != 0 || got[1].Close != "2" || got[2].Close != "4" || c.WindowStart() != 5 {
		t.Fatalf("candles %+v", got)
	}
	if last, ok := c.Last(); !ok || last.Start != 120 || last.Count != 2 {
		t.Fatalf("last %+v", last)
	}
	if err := c.Apply(&schemas.ServerMessage{Type: schemas.TypeCandles, Channel: "candles.X", Resolution: "5m"}); err == nil {
		t.Fatal("an update of another resolution was applied")
	}
	if err := c.Apply(&schemas.ServerMessage{Type: schemas.TypeCandles, Channel: "candles.Y", Snapshot: true}); err == nil {
		t.Fatal("a message of another channel was applied")
	}
}

// TestStreamCandlesOnServer subscribes a Stream to a symbol's candles at
// a resolution on the real server: the subscription is acknowledged with
// the resolution and the first candles event is the snapshot.
func TestStreamCandlesOnServer(t *testing.T) {
	url, sym := liveServer(t, server.Config{})
	st, err := client.NewStream(client.StreamConfig{URL: url, Subscriptions: []client.Subscription{
		{Channel: "candles." + sym, Resolution: "15m", Interval: "100ms"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errDone := errors.New("done")
	acked := false
	err = st.Run(ctx, func(ev *client.Event) error {
		switch ev.Kind {
		case client.EventSubscribed:
			if ev.Msg.Resolution != "15m" || ev.Msg.Interval != "100ms" {
				return fmt.Errorf("subscribed %+v", ev.Msg)
			}
			acked = true
		case client.EventCandles:
			c := client.NewCandles("candles." + sym)
			if !acked || c.Apply(ev.Msg) != nil || !c.Synced() || c.Resolution() != "15m" || c.WindowStart() == 0 {
				return fmt.Errorf("first candles event %+v (acked %v)", ev.Msg, acked)
			}
			return errDone
		case client.EventError, client.EventRefused:
			return fmt.Errorf("%s %v", ev.Kind, ev.Err)
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("Run: %v", err)
	}
}
