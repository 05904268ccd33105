// Package client is the Go client of the marketfeed WebSocket protocol
// (version 1), for bots, tools and tests.
//
// Dial connects to a server's /ws endpoint, performs the WebSocket
// handshake (with optional extra headers such as Authorization) and waits
// for the welcome message. Commands are sent with Subscribe (SubscribeWith
// for every option, the lag policy included), Unsubscribe, Resync, Ping,
// List, Auth (an API key presented on a connection opened without one) or
// SendRaw; every command is written by schemas.AppendCommand. Server
// messages are received with Next (decoded into schemas.ServerMessage) or
// NextRaw (the payload as received; NextFrame also says whether it was a
// binary message). With Options.Protocol set to schemas.SubprotocolBinary
// market data arrives in binary frames (schemas/binary.md), which Next,
// Decode and Stream turn into the same messages and events as JSON.
// The client answers ping frames with pong frames on its own and reports a
// close frame from the server as a *CloseError carrying the close code and
// reason.
//
// Book keeps a client-side copy of one book channel: it applies snapshot
// and update messages in order, checks sequence continuity (first_seq must
// follow the previous seq) and reports a break as ErrGap, and verifies the
// checksum of the whole view that every snapshot and update carries
// (ErrChecksum on a mismatch; Conn.Resync asks for a fresh snapshot
// without unsubscribing). Prices and sizes
// are kept as the exact strings received and ordered by exact decimal value;
// no binary floating point is involved.
//
// Stream is the high-level client for bots and UIs: given a URL, an API key
// and a list of subscriptions, its Run method connects, subscribes, keeps a
// Book per book channel (every snapshot and update goes through Book.Apply,
// the single place where a message is validated), and calls a Handler with
// typed events: book updates with the verified local book, tickers,
// trades, statuses, errors. When Book.Apply rejects a message (a sequence
// gap, an invalid level) the Stream requests a fresh snapshot by itself;
// when the connection drops or the server closes it (1001, 4001, ...) it
// reconnects with capped, jittered exponential backoff and subscribes
// again, resuming each trades channel after the last trade it delivered
// (the subscribe's resume position), so that no trade is lost or repeated
// across reconnections while the server holds the position.
//
// REST reads the server's REST endpoints: the book as a verified Book, the
// ticker, the instrument definitions and the recent trades (whose last
// trade ResumeAfter turns into a resume position).
//
// Concurrency: a Conn is safe for concurrent use. Commands may be sent from
// any goroutine while another goroutine calls Next; Next and NextRaw may be
// called from several goroutines, each message being delivered to exactly
// one caller. Frames are read by one goroutine per connection that lives
// until the connection ends; a message is read from the socket only when a
// caller asks for it, so a slow reader applies TCP backpressure to the
// server. A Book is not safe for concurrent use; guard it with a lock or
// keep it in one goroutine. A REST is safe for concurrent use, and so is
// Stream.TradePosition. A Stream calls its Handler from the goroutine
// that called Run, one event at a time; the Book of an event may be read
// during the call only.
package client
