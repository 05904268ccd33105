package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/marketfeed/marketfeed/client"
)

// A bot that follows the BTC-USD book and trades. The Stream keeps the
// local book verified, resynchronises it after any gap and reconnects by
// itself; the handler only reads.
func ExampleStream() {
	s, err := client.NewStream(client.StreamConfig{
		URL:    "ws://127.0.0.1:8080/ws",
		APIKey: os.Getenv("MARKETFEED_API_KEY"),
		Subscriptions: []client.Subscription{
			{Channel: "book.BTC-USD", Depth: 10},
			{Channel: "trades.BTC-USD"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err = s.Run(ctx, func(ev *client.Event) error {
		switch ev.Kind {
		case client.EventBook:
			bid, _, okBid := ev.Book.BestBid()
			ask, _, okAsk := ev.Book.BestAsk()
			if ev.Book.Synced() && okBid && okAsk {
				fmt.Printf("seq %d  bid %s  ask %s\n", ev.Book.Seq(), bid, ask)
			}
		case client.EventTrades:
			for _, t := range ev.Msg.Trades {
				fmt.Printf("trade %s %s @ %s\n", t.Side, t.Size, t.Price)
			}
		case client.EventResync, client.EventDisconnected:
			log.Printf("%s: %v", ev.Kind, ev.Err)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}
