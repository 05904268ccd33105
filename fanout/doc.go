// Package fanout delivers market data to WebSocket clients: it accepts
// connections (gobwas/ws), parses their commands, and routes each
// subscription to the Streams of its symbol, which encode every message
// once and share the bytes with all subscribers of that output stream.
//
// # Concurrency contract
//
// A symbol's Streams belong to the owner goroutine of its market state
// (market.Symbol), the goroutine that applies the exchange's events to
// it: one per Kafka partition, see package feed. The owner tells a Group
// (fanout's feed.Listener, one per owner) of every change, and the Group
// has the Streams deliver it; Group.Tick, called by the owner every 100
// ms, flushes the throttled streams that are due. Everything the Streams
// read or hold (the market state, the streams and their subscriber sets)
// is read and written only there, so delivering a message to N
// subscribers takes no lock: the owner encodes the frame once and appends
// the shared, immutable bytes to each subscriber's queue. Other goroutines
// read only what the market state publishes with atomics (Streams.State,
// Hub.Symbols), or post a read to the owner and wait for it (Streams.Book,
// Ticker and Instrument, Hub.Instruments, for request/response clients:
// the owner runs it between two events, so it is one consistent state,
// and never waits for the requester).
//
// Subscribing and unsubscribing never touch a symbol's streams directly: a
// connection's reader validates the command and posts a function to
// the owner (Owner.Exec), which acknowledges it and sends the initial
// snapshot in order with the stream, so a client never sees a delta before
// its snapshot, nor anything of a stream after the unsubscribe
// acknowledgement. The reader waits until the owner has run the function
// (at most a second, for an owner that stopped) before it handles the next
// channel or command, so that replies leave in request order although the
// channels' symbols have different owners; an owner never waits for a
// reader, so this cannot deadlock.
//
// The all-market tickers channel is the one output that spans owners: at
// its Group.Tick each owner publishes its symbols' changed ticker
// messages with an atomic store (only while the channel has
// subscribers), and one hub goroutine, every 100 ms and every second,
// reads them, builds one message per distinct set of symbols the
// subscribers' sessions allow and queues the shared frame (tickers.go).
// Owners never wait for it.
//
// A connection's encoding of market data (JSON or binary, chosen by its
// subprotocol at the handshake, codec.go) is fixed before it is served
// and never changes, so the owners read it without synchronisation. A
// subscriber set counts its connections per encoding (owner only), and an
// owner encodes each message once per encoding that has subscribers in
// the set: one shared frame per encoding, none for an encoding nobody
// uses. The tickers board does the same per distinct set of symbols.
//
// # Connections
//
// A connection is a session (Conn: subscriptions, authorization,
// commands, lag policy) over a transport connection of package wsconn,
// which owns the socket, the lock-free outbound queue and its writer, the
// reader of client frames, the poller, pings, idle timeouts, lifetimes and
// the close handshake (see its documentation for their concurrency
// contract). The session uses only wsconn's API: streams' owners queue
// shared frames (wsconn.Conn.Send, or SendAt with the event time of a book
// update or trades, from which the writer samples the delivery latency
// without reading the frame), and the session gets the client's text
// messages on the reader role (wsconn.Handler).
//
// A trades subscription with a resume position is resolved on the owner,
// which holds the symbol's recent trades: the catch-up and the join to
// the stream happen in one step there, so no trade falls between them.
// When the history no longer holds the position, the connection's reader
// (never the owner) reads the Kafka log back with a timeout and posts
// what it read to the owner, which stitches it to the history at the
// offset from which the history is complete (trades_resume.go).
//
// Candles streams (candles.go, one per resolution and interval) live on
// the owner too: they read the candles that market.Symbol keeps from its
// trades and send what changed, at each trade (raw) and at the owner's
// ticks, one shared frame per message.
//
// Books, bbo, tickers and candles conflate on lag by default: a connection
// that falls behind drops its queued state frames and its book, bbo,
// ticker and candles subscriptions restart from a fresh state, while its trades keep flowing
// (lag.go gives the steps and why the client never sees a gap).
//
// # Lock order
//
// A connection's smu (its subscriptions and session) is taken by its
// reader for each step of a command and by Hub.Recheck; inside it, the
// session's methods (Session.Check, Allow, Limits, Start, End) and the
// Authorizer's AdmitKey take the authorization store's own lock. So smu
// comes first: the Authorizer must never call into the hub (Recheck)
// while it holds its lock. smu is never held across a post to a streams'
// owner (Owner.Exec may wait for room in the owner's queue): subscribe,
// unsubscribe, resync, Recheck and a connection's end decide under smu and
// post after releasing it; a subscription ended meanwhile (gone) is left
// out by the owner. Hub.mu is never held with smu, nor during I/O. The
// tickers board's mu comes before smu (a flush asks the session about a
// symbol new to a subscription); it is never taken under smu.
//
// # Authorization
//
// With a Config.Authorizer, the upgrade request is admitted (or refused
// with its HTTP status) before the upgrade, and each connection carries
// the admitted Session: Start takes its connection slot (a refusal closes
// with 4004), every subscribe is checked with Allow, and End gives the slot
// back. A connection's subscriptions and session are guarded by a mutex
// (smu) that its reader holds for each step of a command and Hub.Recheck
// while re-checking it after a change of entitlements, so a subscription
// removed by a narrowed plan goes through the same unsubscribe path
// (posted to the symbol's owner, once smu is released) as a client's own
// (see "Lock order").
//
// # Streams and sequencing
//
// A book stream is one (depth, interval) pair of a symbol. Its subscribers
// hold the top-depth view of the book; an update carries the entries that
// turn the view at the previous message's seq into the view at the update's
// seq (first_seq is always the previous seq + 1). Raw streams emit after
// every exchange event that changes their view; throttled streams (100ms,
// 1s) emit the net change at each flush (every schemas.Interval.Ticks()
// ticks of the owner), and a new subscriber of a
// throttled stream receives its snapshot at the next flush, taken at the
// same point as the update every other subscriber receives. A resync
// command takes the same paths: a raw subscriber gets a snapshot at once, a
// throttled one rejoins and gets it at the next flush.
// A subscribe that resumes from a position (resume.go) joins its stream on
// the owner goroutine too, without a snapshot: at once or at the stream's
// next emission for raw, at the next flush for throttled streams, with at
// most one update of its own built from the symbol's history
// (market.Symbol.ChangesSince); until it joins it waits in the stream's
// resuming list, which snapshots, statuses, resync and unsubscribe handle
// like the joining list.
//
// Every snapshot and update carries the checksum of the whole view
// (schemas.BookChecksum). Each stream keeps its view as the canonical
// checksum string: a snapshot formats it, an update patches its own
// entries into it, and the CRC is computed once per message of the stream,
// never per subscriber.
package fanout
