package client

import (
	"fmt"
	"time"

	"github.com/marketfeed/marketfeed/schemas"
)

// EventKind tells what an Event reports.
type EventKind int

// Event kinds. Every message received from the server yields exactly one
// event of kind EventConnected (the welcome), EventSubscribed, EventBook,
// EventBBO, EventTicker, EventTickers, EventTrades, EventCandles, EventStatus,
// EventError or EventMessage, with
// Raw set; the other kinds are the Stream's own.
const (
	// EventConnecting: a connection attempt starts.
	EventConnecting EventKind = iota
	// EventConnected: the server said welcome (Msg, Raw); subscriptions
	// are being sent.
	EventConnected
	// EventSubscribed: the server confirmed the subscription of Channel;
	// Resumed says whether it continued from where the Stream was before
	// a reconnection (Msg.ResumeReason says why not, when a position was
	// sent: Msg.Resumed is not nil).
	EventSubscribed
	// EventBook: a snapshot or update of Channel (Msg) was applied to Book,
	// which is now the verified local book (check Book.Synced()). With
	// StreamConfig.RawBooks, Book is nil.
	EventBook
	// EventTicker: a ticker message of Channel (Msg).
	EventTicker
	// EventTrades: a trades message of Channel (Msg.Trades).
	EventTrades
	// EventStatus: the server says Channel's book (of a book or bbo
	// channel) is "waiting" or "stale"
	// (Msg.Status, with Msg.Reason: "gap", "feed_down", "silent",
	// "crossed"); Book, if kept, is not synced until the next snapshot.
	EventStatus
	// EventResync: the book message Msg could not be applied to Book (Err
	// says why, for example ErrGap), so Book is not synced and a fresh
	// snapshot has been requested; nothing is required from the handler.
	EventResync
	// EventRefused: the server refused the subscription of Channel (Err is
	// a *ServerError). A refusal with code rate_limited is retried after a
	// delay; other refusals are retried on the next connection only.
	EventRefused
	// EventError: an error message from the server (Err is a *ServerError,
	// Msg the message), or a message that could not be decoded (Err, Raw).
	EventError
	// EventMessage: any other server message (unsubscribed, pong,
	// subscriptions, messages of future protocol versions).
	EventMessage
	// EventDisconnected: the connection ended or could not be made (Err);
	// the next attempt starts after Delay.
	EventDisconnected
	// EventTick: StreamConfig.Tick elapsed.
	EventTick
	// EventNotice: the server announced that it will close the connection
	// (Msg.Code "shutdown" or "lifetime"). The Stream reconnects at once,
	// after a short random delay (EventDisconnected with ErrNotice), rather
	// than waiting for the close.
	EventNotice
	// EventBBO: a bbo message of Channel (Msg): the book's best bid and ask
	// at Msg.Seq (Msg.Bid, Msg.BidSize, Msg.Ask, Msg.AskSize; "" for an
	// empty side). It holds until the next bbo or status of Channel.
	EventBBO
	// EventTickers: a message of the tickers channel (Msg): Msg.Tickers
	// holds the ticker message of every symbol the key may see, sorted by
	// symbol.
	EventTickers
	// EventCandles: a candles message of Channel (Msg): Msg.Candles, oldest
	// first, replace the candles held with the same start; Msg.Snapshot
	// replaces them all (Candles keeps them).
	EventCandles
)

var eventNames = [...]string{"connecting", "connected", "subscribed", "book", "ticker", "trades", "status", "resync", "refused", "error", "message", "disconnected", "tick", "notice", "bbo", "tickers", "candles"}

// String returns the kind's name, for example "book".
func (k EventKind) String() string {
	if k >= 0 && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is what a Stream delivers to its handler. An Event and the Book it
// points to are valid only during the handler call: the Stream changes the
// book when it applies the next message. Book.Bids and Book.Asks return
// copies that may be kept.
type Event struct {
	Kind    EventKind
	Channel string                 // the channel concerned, if any
	Msg     *schemas.ServerMessage // the decoded server message, if any
	Raw     []byte                 // the server message as received, if any (binary bytes on a binary connection's market data)
	Book    *Book                  // the local book of Channel (book events)
	Err     error                  // EventError, EventResync, EventDisconnected
	Delay   time.Duration          // EventDisconnected: wait before reconnecting
	// Resumed (EventSubscribed): the channel resumed from the position
	// the Stream sent, so its Book (book channels) is kept as it was.
	Resumed bool
}
