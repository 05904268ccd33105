package schemas

// ProtocolVersion is the version of the WebSocket protocol described in
// websocket.md. It is announced in the welcome message.
const ProtocolVersion = 1

// Server message types (the "type" field of every server → client message).
const (
	TypeWelcome       = "welcome"
	TypeSubscribed    = "subscribed"
	TypeUnsubscribed  = "unsubscribed"
	TypeError         = "error"
	TypePong          = "pong"
	TypeSubscriptions = "subscriptions"
	TypeSnapshot      = "snapshot"
	TypeUpdate        = "update"
	TypeStatus        = "status"
	TypeTicker        = "ticker"
	TypeBBO           = "bbo"
	TypeTickers       = "tickers"
	TypeTrades        = "trades"
	TypeCandles       = "candles"
	TypeNotice        = "notice"
	TypeAuthenticated = "authenticated"
)

// MessageTypes returns every server message type, in the order of
// websocket.md section 5 (a new slice each call).
func MessageTypes() []string {
	return []string{TypeWelcome, TypeSubscribed, TypeUnsubscribed, TypePong, TypeSubscriptions, TypeError,
		TypeSnapshot, TypeUpdate, TypeStatus, TypeBBO, TypeTicker, TypeTickers, TypeTrades, TypeCandles, TypeNotice, TypeAuthenticated}
}

// Notice codes: why the server will close the connection soon.
const (
	// NoticeShutdown: the server is shutting down; the close (1001)
	// follows once what is queued for the client is written.
	NoticeShutdown = "shutdown"
	// NoticeLifetime: the connection reached its maximum lifetime; the
	// close (4005) follows after close_in_ms.
	NoticeLifetime = "lifetime"
)

// Book status values carried by a status message.
const (
	// StatusWaiting: the book is not known yet (no snapshot since start).
	StatusWaiting = "waiting"
	// StatusStale: the upstream sequence broke; the view is frozen until a
	// fresh snapshot, which follows as the next book message.
	StatusStale = "stale"
)

// Reasons carried by a status message whose status is StatusStale.
const (
	// ReasonGap: the upstream sequence broke (a missing delta, or a delta
	// of a newer publisher epoch before its snapshot).
	ReasonGap = "gap"
	// ReasonFeedDown: the book's Kafka partition could not be fetched for
	// longer than the server's feed-down bound.
	ReasonFeedDown = "feed_down"
	// ReasonSilent: no record advanced or confirmed the book for longer
	// than the server's silence bound.
	ReasonSilent = "silent"
	// ReasonCrossed: the book's best bid is at or above its best ask.
	ReasonCrossed = "crossed"
)

// ServerMessage is the union of every message the server sends, for clients
// that decode with encoding/json. Fields not used by a message type are left
// at their zero value and omitted on the wire. Decimal values are strings
// with exactly the instrument's scale.
//
// Because every field is omitempty, encoding a ServerMessage drops zero
// values: it suits the control-plane messages (welcome, replies, errors,
// statuses), but book snapshots and updates, which always carry seq,
// first_seq, bids and asks (websocket.md), must be encoded by hand. Decoding
// any server message into a ServerMessage works.
type ServerMessage struct {
	Type    string `json:"type"`
	ID      int64  `json:"id,omitempty"`
	Channel string `json:"channel,omitempty"`
	TS      int64  `json:"ts,omitempty"` // µs since the Unix epoch

	// welcome
	Protocol       int    `json:"protocol,omitempty"`
	Server         string `json:"server,omitempty"`
	PingIntervalMS int64  `json:"ping_interval_ms,omitempty"`
	// Encoding is the encoding of the connection's market data, chosen by
	// its subprotocol: "json" or "bin" (Encoding.String).
	Encoding string `json:"encoding,omitempty"`

	// subscribed / subscriptions
	Depth    int    `json:"depth,omitempty"`
	Interval string `json:"interval,omitempty"`
	// Resolution (subscribed, candles) is the candles' resolution.
	Resolution    string             `json:"resolution,omitempty"`
	Subscriptions []SubscriptionInfo `json:"subscriptions,omitempty"`
	// Resumed (subscribed) answers a resume position the subscribe gave
	// for the channel: true when the channel continues from it, false
	// (with ResumeReason) when it starts anew; nil when none was given.
	Resumed *bool `json:"resumed,omitempty"`
	// ResumeReason (subscribed, with Resumed false) says why the channel
	// did not resume: one of ResumeReasons.
	ResumeReason string `json:"resume_reason,omitempty"`

	// error, notice
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`

	// notice: milliseconds until the server closes the connection
	CloseInMS int64 `json:"close_in_ms,omitempty"`

	// snapshot / update
	FirstSeq uint64 `json:"first_seq,omitempty"`
	Seq      uint64 `json:"seq,omitempty"`
	// Epoch is the publisher epoch the book's seq belongs to (0 for a
	// publisher without epochs); sent on every snapshot and update.
	Epoch uint64      `json:"epoch,omitempty"`
	Bids  [][2]string `json:"bids,omitempty"`
	Asks  [][2]string `json:"asks,omitempty"`
	// Checksum is the CRC-32 of the client's whole view after the message
	// (BookChecksum, websocket.md section 5.7.1). The server sends it on
	// every snapshot and update; nil when absent.
	Checksum *uint32 `json:"checksum,omitempty"`

	// status
	Status string `json:"status,omitempty"`
	// Reason says why a book is stale (ReasonGap, ReasonFeedDown,
	// ReasonSilent, ReasonCrossed); clients must accept other values.
	Reason string `json:"reason,omitempty"`

	// ticker, bbo
	Bid         string `json:"bid,omitempty"`
	BidSize     string `json:"bid_size,omitempty"`
	Ask         string `json:"ask,omitempty"`
	AskSize     string `json:"ask_size,omitempty"`
	Last        string `json:"last,omitempty"`
	LastSize    string `json:"last_size,omitempty"`
	Open        string `json:"open,omitempty"`
	High        string `json:"high,omitempty"`
	Low         string `json:"low,omitempty"`
	Volume      string `json:"volume,omitempty"`
	QuoteVolume string `json:"quote_volume,omitempty"`
	VWAP        string `json:"vwap,omitempty"`
	Change      string `json:"change,omitempty"`
	ChangePct   string `json:"change_pct,omitempty"`
	Count       int64  `json:"count,omitempty"`
	// WindowStart is the exchange time (µs) from which the statistics
	// are complete: the start of the 24 h window, or later when the
	// server has not read the whole window.
	WindowStart int64 `json:"window_start,omitempty"`

	// trades
	Trades []TradeMessage `json:"trades,omitempty"`
	// Tickers (tickers): the ticker message of each symbol, by symbol.
	Tickers []ServerMessage `json:"tickers,omitempty"`

	// candles: Snapshot marks the message that replaces the client's
	// candles; Candles holds them, oldest first (WindowStart above says
	// from when they hold every trade).
	Snapshot bool            `json:"snapshot,omitempty"`
	Candles  []CandleMessage `json:"candles,omitempty"`
}

// SubscriptionInfo describes one subscription in subscribed and
// subscriptions messages.
type SubscriptionInfo struct {
	Channel  string `json:"channel"`
	Depth    int    `json:"depth,omitempty"`
	Interval string `json:"interval"`
	// Resolution is the candles' resolution; candles channels only.
	Resolution string `json:"resolution,omitempty"`
}

// CandleMessage is one candle inside a candles message.
type CandleMessage struct {
	Start       int64  `json:"start"` // µs, a UTC boundary of the resolution
	Open        string `json:"open"`
	High        string `json:"high"`
	Low         string `json:"low"`
	Close       string `json:"close"`
	Volume      string `json:"volume"`
	QuoteVolume string `json:"quote_volume"`
	Count       int64  `json:"count"`
	Final       bool   `json:"final"`
}

// TradeMessage is one trade inside a trades message.
type TradeMessage struct {
	ID    string `json:"id"`
	TS    int64  `json:"ts"`
	Price string `json:"price"`
	Size  string `json:"size"`
	Side  string `json:"side"` // aggressor side: "buy" or "sell"
}
