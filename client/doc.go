// Package client is the Go client of the marketfeed WebSocket protocol
// (version 1), for bots, tools and tests.
//
// Dial connects to a server's /ws endpoint, performs the WebSocket
// handshake (with optional extra headers such as Authorization) and waits
// for the welcome message. Commands are sent with Subscribe, Unsubscribe,
// Ping, List or SendRaw; server messages are received with Next (decoded
// into schemas.ServerMessage) or NextRaw (the text payload as received).
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
// Concurrency: a Conn is safe for concurrent use. Commands may be sent from
// any goroutine while another goroutine calls Next; Next and NextRaw may be
// called from several goroutines, each message being delivered to exactly
// one caller. Frames are read by one goroutine per connection that lives
// until the connection ends; a message is read from the socket only when a
// caller asks for it, so a slow reader applies TCP backpressure to the
// server. A Book is not safe for concurrent use; guard it with a lock or
// keep it in one goroutine.
package client
